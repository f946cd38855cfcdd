import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { cached } from './cache.ts';
import { debootstrapTree } from './debootstrap.ts';
import { progress } from './log.ts';
import { sh } from './sh.ts';
import { enableUnit } from './systemd-enable.ts';
import { copyTree, LOCALHOST_HOSTS, treeBytes, writeGuestFile } from './tree.ts';

/** What the installer calls in the maintenance OS (partitioning, filesystems, WIM, EFI entries, DMI serial). */
export const MAINT_PACKAGES = [
  'linux-image-amd64', 'initramfs-tools', 'systemd-sysv', 'udev', 'kmod', 'iproute2', 'util-linux', 'mount',
  'gdisk', 'fdisk', 'parted', 'dosfstools', 'mtools', 'e2fsprogs', 'xfsprogs', 'ntfs-3g', 'wimtools',
  'zstd', 'pigz', 'xz-utils', 'tar', 'efibootmgr', 'grub-efi-amd64-bin', 'grub2-common', 'libhivex-bin',
  'ca-certificates', 'dmidecode',
  // The host's node binary is copied in and links against libstdc++.
  'libstdc++6',
] as const;

/**
 * Kernel command line for booting a maintenance disk with `-kernel/-initrd`: root is the first virtio disk; the
 * console is serial so the test can read it; panic=1 with qemu's -no-reboot turns a kernel panic into a quick exit
 * instead of a hang until the timeout. Append the installer's own arguments.
 */
export const MAINT_KERNEL_ARGS = 'root=/dev/vda rw console=ttyS0,115200 panic=1';

/** Bump when configureMaintenance changes: it is part of the cache key. */
const MAINT_CONFIG_VERSION = 1;

/** Booted with `-kernel/-initrd`, the root disk must be reachable from the initrd alone. */
const INITRD_MUST_HAVE = ['virtio_blk.ko', 'virtio_pci.ko', 'ext4.ko'];

async function configureMaintenance(root: string): Promise<void> {
  await writeGuestFile(root, '/etc/hostname', 'shoal-maint\n');
  await writeGuestFile(root, '/etc/hosts', `${LOCALHOST_HOSTS}127.0.1.1\tshoal-maint\n`);
  // The root comes from the kernel command line (`root=/dev/vda rw`); nothing else is mounted from disk.
  await writeGuestFile(root, '/etc/fstab', '# root: from the kernel command line\n');
  // qemu user networking's DNS forwarder; without systemd-resolved nobody else would write this.
  await writeGuestFile(root, '/etc/resolv.conf', 'nameserver 10.0.2.3\n');
  await writeGuestFile(root, '/etc/systemd/network/80-dhcp.network', '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n');
  // Bounded so that a guest without a link still reaches the units that report the failure.
  await writeGuestFile(
    root,
    '/etc/systemd/system/systemd-networkd-wait-online.service.d/bounded.conf',
    '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30\n',
  );
  await enableUnit(root, 'systemd-networkd.service');

  const initrd = await findBoot(root, 'initrd.img-');
  const listing = await sh(['chroot', root, 'lsinitramfs', `/boot/${basename(initrd)}`]);
  const missing = INITRD_MUST_HAVE.filter((m) => !listing.includes(`/${m}`));
  if (missing.length) throw new Error(`maintenance initrd lacks ${missing.join(', ')}`);
}

async function findBoot(root: string, prefix: string): Promise<string> {
  const found = (await readdir(join(root, 'boot'))).filter((f) => f.startsWith(prefix)).sort();
  const last = found.at(-1);
  if (!last) throw new Error(`no /boot/${prefix}* in ${root}`);
  return join(root, 'boot', last);
}

/**
 * The cached root directory of a Debian bookworm maintenance VM: DHCP on en and eth interfaces through
 * systemd-networkd, host name shoal-maint, no node (makeMaintenanceDisk adds the host's). Treat it as read-only.
 */
export async function buildMaintenanceBase(): Promise<string> {
  const tree = await debootstrapTree({ name: 'maint', packages: MAINT_PACKAGES });
  const dir = await cached('maint-base', { tree: basename(dirname(tree)), config: MAINT_CONFIG_VERSION }, async (tmp) => {
    await copyTree(tree, join(tmp, 'root'));
    await configureMaintenance(join(tmp, 'root'));
  });
  return join(dir, 'root');
}

/** Guest file contents: text or bytes, or a host file to copy (its mode kept). */
export type OverlayFile = string | Buffer | { hostPath: string };

export interface MaintenanceDiskOptions {
  base: string;
  /** Guest path -> content. Units go to /etc/systemd/system/. */
  overlayFiles?: Record<string, OverlayFile>;
  /** Enabled as `systemctl enable` would (wants symlinks), since no systemd runs here. */
  enableUnits?: string[];
  outImage: string;
  /** Sparse, so generous costs nothing; the installer may stage files in the maintenance root. */
  sizeMiB?: number;
  /** Copied to /usr/local/bin/node. Default: the node running this process, so the guest runs what the tests run. */
  hostNode?: string;
}

export interface MaintenanceDisk {
  image: string;
  kernel: string;
  initrd: string;
}

/** A raw ext4 image (the VM's /dev/vda) of the base plus node and the overlay; made with `mkfs.ext4 -d`, no mount needed. */
export async function makeMaintenanceDisk(opts: MaintenanceDiskOptions): Promise<MaintenanceDisk> {
  await mkdir(dirname(opts.outImage), { recursive: true });
  const work = await mkdtemp(join(dirname(opts.outImage), '.maint-root-'));
  const root = join(work, 'root');
  try {
    await copyTree(opts.base, root);
    await copyFile(opts.hostNode ?? process.execPath, join(root, 'usr/local/bin/node'));
    for (const [guestPath, file] of Object.entries(opts.overlayFiles ?? {})) {
      if (typeof file === 'object' && !Buffer.isBuffer(file)) {
        await mkdir(dirname(join(root, guestPath)), { recursive: true });
        await sh(['cp', '--preserve=mode', '--remove-destination', file.hostPath, join(root, guestPath)]);
      } else {
        await writeGuestFile(root, guestPath, file);
      }
    }
    for (const unit of opts.enableUnits ?? []) await enableUnit(root, unit);
    const sizeMiB = opts.sizeMiB ?? 4096;
    progress(`mkfs.ext4 -d: ${(await treeBytes(root)) >> 20} MiB into ${opts.outImage} (${sizeMiB} MiB)`);
    await rm(opts.outImage, { force: true });
    await sh(['mkfs.ext4', '-q', '-F', '-L', 'shoal-maint', '-d', root, opts.outImage, `${sizeMiB}M`]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { image: opts.outImage, kernel: await findBoot(opts.base, 'vmlinuz-'), initrd: await findBoot(opts.base, 'initrd.img-') };
}
