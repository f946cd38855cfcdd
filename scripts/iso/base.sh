#!/usr/bin/env bash
# The base layer of the maintenance ISO: a Debian live root with every package of scripts/iso/packages, the
# files of scripts/iso/rootfs and Node, squashed. Run by scripts/build_maintenance_os.sh, which caches the result
# under a key that hashes this file, the package list, the rootfs files, the release and Node's version and hash.
#
# Usage: base.sh OUT RELEASE MIRROR SECURITY_MIRROR NODE_TGZ
# Writes OUT/vmlinuz, OUT/initrd.img, OUT/filesystem.squashfs, OUT/packages.list (dpkg package=version).
set -euo pipefail

out="$1" release="$2" mirror="$3" security="$4" node_tgz="$5"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${out}/root"

die() {
  echo "build_maintenance_os: $*" >&2
  exit 1
}

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "${here}/packages" | grep -v '^$')
include="$(IFS=,; echo "${packages[*]}")"
components="main non-free-firmware"

echo "==> mmdebstrap ${release} (${#packages[@]} packages) from ${mirror}: takes minutes"
# Docs, man pages and translations are of no use on a server's console; copyright files stay.
if ! mmdebstrap --variant=minbase --mode=root --format=directory \
  --include="$include" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$release" "$root" \
  "deb ${mirror} ${release} ${components}" \
  "deb ${mirror} ${release}-updates ${components}" \
  "deb ${security} ${release}-security ${components}"; then
  die "mmdebstrap of ${release} from ${mirror} failed (see above): check the network and the mirror, or pass --mirror URL"
fi

cp -a --no-preserve=ownership "${here}/rootfs/." "${root}/"
# live-boot writes its interfaces file here (unused: networkd configures the NICs) and complains on the console without it.
mkdir -p "${root}/etc/network"

echo "==> Node $(basename "$node_tgz")"
mkdir -p "${root}/usr/local/share/doc/node"
tar -xzf "$node_tgz" -C "${root}/usr/local/bin" --strip-components=2 package/bin/node
tar -xzf "$node_tgz" -C "${root}/usr/local/share/doc/node" --strip-components=1 package/LICENSE
chown 0:0 "${root}/usr/local/bin/node"
node_version="$(chroot "$root" /usr/local/bin/node --version)" || die "the Node binary does not run in the ${release} root"
echo "==> node ${node_version} runs in the root"

# networkd and resolved (its stub follows what DHCP says) are off by default in Debian. apt's timers would try
# to reach a mirror from a live system that never upgrades.
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer
# Empty: each boot of the live system gets its own machine id (and no first-boot service work).
: > "${root}/etc/machine-id"
ln -sf ../run/systemd/resolve/stub-resolv.conf "${root}/etc/resolv.conf"

# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
chroot "$root" dpkg-query -W -f '${Package}=${Version}\n' | sort > "${out}/packages.list"

kernel="$(find "${root}/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)"
initrd="$(find "${root}/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)"
[[ -n "$kernel" && -n "$initrd" ]] || die "no kernel or initrd under ${root}/boot"
# The initrd must have been made after live-boot's hook arrived (dpkg's initramfs trigger runs last). Not read with
# lsinitramfs: trixie's, run in the chroot here, left the root with most of it deleted.
live_script="${root}/usr/share/initramfs-tools/scripts/live"
[[ -f "$live_script" && "$initrd" -nt "$live_script" ]] || die "the initrd was not made with live-boot's scripts (live-boot-initramfs-tools)"
mv "$kernel" "${out}/vmlinuz"
mv "$initrd" "${out}/initrd.img"

rm -rf "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/* "${root}"/var/log/* "${root}"/tmp/* "${root}"/var/tmp/*
echo "==> mksquashfs the root ($(du -sm "$root" | cut -f1) MiB)"
mksquashfs "$root" "${out}/filesystem.squashfs" -comp zstd -b 1M -noappend -quiet -no-progress
rm -rf "$root"
