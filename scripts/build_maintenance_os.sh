#!/usr/bin/env bash
# Build the Shoal maintenance OS: the bootc container image (Containerfile, with shoal-install inside) with
# podman, then a bootable ISO from it with bootc-image-builder.
#
# Needs: podman, the right to run privileged containers (root, or sudo), network access to quay.io and
# registry.access.redhat.com (base images) and to the npm, CentOS and EPEL repositories. The project's
# development/CI machines have none of that: this script is checked there with shellcheck only.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTPUT_DIR="${REPO_ROOT}/build/maintenance-os"
ROOTFS="xfs"
IMAGE_NAME="${IMAGE_NAME:-shoal-maintenance:dev}"
ARCH="$(uname -m)"
TYPE="iso"
BIB_IMAGE="${BIB_IMAGE:-quay.io/centos-bootc/bootc-image-builder:latest}"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--output DIR] [--rootfs ext4|xfs|btrfs] [--image-name NAME[:TAG]] [--arch x86_64|aarch64]
                        [--type iso|qcow2|raw]

Builds the container image NAME (default shoal-maintenance:dev, or \$IMAGE_NAME) from Containerfile, then runs
bootc-image-builder (\$BIB_IMAGE, default ${BIB_IMAGE}) to write a bootable image under DIR
(default build/maintenance-os): DIR/bootiso/install.iso for --type iso.

  --output DIR       where the ISO and the builder's manifest go
  --rootfs FS        root filesystem of the image (default ${ROOTFS})
  --image-name NAME  tag for the container image (also \$IMAGE_NAME); push it yourself if you want
  --arch ARCH        target architecture (default: this machine's, $(uname -m))
  --type TYPE        bootc-image-builder output type (default ${TYPE})

Build arguments pass through from the environment when set: BASE_IMAGE, BUILDER_IMAGE, NODEJS_STREAM.
With rootless podman, the image is copied into root's container storage and the builder runs under sudo.
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
    --output) OUTPUT_DIR="$(value "$@")"; shift 2 ;;
    --output=*) OUTPUT_DIR="${1#*=}"; shift ;;
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
command -v podman >/dev/null 2>&1 || die "podman is not installed"

# Unqualified names live in local storage as localhost/NAME; bootc-image-builder wants the full reference.
first="${IMAGE_NAME%%/*}"
if [[ "$IMAGE_NAME" == */* && ( "$first" == *.* || "$first" == *:* || "$first" == localhost ) ]]; then
  IMAGE_REF="$IMAGE_NAME"
else
  IMAGE_REF="localhost/${IMAGE_NAME}"
fi

build_args=()
for name in BASE_IMAGE BUILDER_IMAGE NODEJS_STREAM; do
  if [[ -n "${!name:-}" ]]; then build_args+=(--build-arg "${name}=${!name}"); fi
done

echo "==> podman build ${IMAGE_REF} (${PLATFORM}) from ${REPO_ROOT}/Containerfile"
podman build --platform "$PLATFORM" "${build_args[@]}" -f "${REPO_ROOT}/Containerfile" -t "$IMAGE_REF" "$REPO_ROOT"

mkdir -p "$OUTPUT_DIR"
OUTPUT_DIR="$(cd "$OUTPUT_DIR" && pwd)"

# bootc-image-builder must run rootful and reads the image from root's storage (/var/lib/containers/storage).
sudo_cmd=()
if [[ "$(podman info --format '{{.Host.Security.Rootless}}')" == "true" ]]; then
  [[ $EUID -eq 0 ]] || sudo_cmd=(sudo)
  command -v sudo >/dev/null 2>&1 || [[ $EUID -eq 0 ]] || die "rootless podman and no sudo: run this script as root"
  archive="$(mktemp --tmpdir shoal-maintenance.XXXXXX.tar)"
  trap 'rm -f "$archive"' EXIT
  echo "==> rootless podman: copying ${IMAGE_REF} into root's container storage"
  podman save --format oci-archive -o "$archive" "$IMAGE_REF"
  loaded="$("${sudo_cmd[@]}" podman load -q -i "$archive" | sed -n 's/^Loaded image[^:]*: *//p' | tail -n 1)"
  [[ -n "$loaded" ]] || die "podman load did not name the image it loaded"
  if [[ "$loaded" != "$IMAGE_REF" ]]; then "${sudo_cmd[@]}" podman tag "$loaded" "$IMAGE_REF"; fi
fi

echo "==> bootc-image-builder --type ${TYPE} --rootfs ${ROOTFS} --target-arch ${ARCH} -> ${OUTPUT_DIR}"
"${sudo_cmd[@]}" podman run --rm --privileged --pull=newer \
  --security-opt label=type:unconfined_t \
  -v "${OUTPUT_DIR}:/output" \
  -v /var/lib/containers/storage:/var/lib/containers/storage \
  "$BIB_IMAGE" \
  --type "$TYPE" \
  --rootfs "$ROOTFS" \
  --target-arch "$ARCH" \
  --chown "$(id -u):$(id -g)" \
  --output /output \
  "$IMAGE_REF"

if [[ "$TYPE" == "iso" ]]; then
  echo "==> ${OUTPUT_DIR}/bootiso/install.iso"
else
  echo "==> ${OUTPUT_DIR}"
fi
