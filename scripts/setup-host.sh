#!/usr/bin/env bash
# The Debian packages the installer calls and the tests start (registry, qemu, OVMF...). Idempotent.
set -euo pipefail
PACKAGES=(
  gdisk fdisk parted util-linux dosfstools mtools xfsprogs e2fsprogs btrfs-progs ntfs-3g wimtools
  zstd pigz xz-utils tar acl attr
  docker-registry skopeo apache2-utils openssl curl
  qemu-system-x86 qemu-utils ovmf debootstrap xorriso efibootmgr grub-efi-amd64-bin
  libhivex-bin libwin-hivex-perl tmux shellcheck systemd
  # The maintenance ISO (scripts/build_maintenance_os.sh) and the VM tests' screen reading (OCR of a screendump).
  mmdebstrap squashfs-tools grub-pc-bin grub-common tesseract-ocr netpbm
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The packaged registry starts a system instance we do not use; the tests start their own on free ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
modprobe loop 2>/dev/null || true
echo "setup-host: ready"
