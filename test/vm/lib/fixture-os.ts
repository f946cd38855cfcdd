import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { cached } from './cache.ts';
import { debootstrapTree } from './debootstrap.ts';
import { progress } from './log.ts';
import { sh } from './sh.ts';
import { copyTree, LOCALHOST_HOSTS, treeBytes, writeGuestFile } from './tree.ts';

/** Packages of the target OS. python3-cffi-backend: without it cloud-init fails to configure (docs/test-machines.md). */
export const FIXTURE_PACKAGES = [
  'linux-image-amd64',
  'systemd-sysv',
  'udev',
  'grub-efi-amd64',
  'initramfs-tools',
  'cloud-init',
  'python3-cffi-backend',
  'e2fsprogs',
  'dosfstools',
  // cloud-init renders its network config for systemd-networkd, which needs `ip`; sudo for its default user.
  'iproute2',
  'sudo',
] as const;

/** Bump when configureFixture changes: it is part of the cache key. */
const FIXTURE_CONFIG_VERSION = 2;

export interface FixtureMeta {
  /** `du -sb` of the unpacked tree: what the target's root partition must hold. */
  unpackedBytes: number;
  tarballBytes: number;
  kernels: string[];
  suite: string;
  packages: string[];
}

/** No console but the serial one in the test VM: GRUB and the kernel must talk there, and not wait for a key. */
const DEFAULT_GRUB = `GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
`;

/** Makes the tree an image that an installer personalises: everything machine-specific is left for the install or first boot. */
async function configureFixture(root: string): Promise<void> {
  await writeGuestFile(root, '/etc/default/grub', DEFAULT_GRUB);
  // The installer's config drive is a NoCloud `cidata` partition; without a list cloud-init probes clouds for minutes.
  await writeGuestFile(root, '/etc/cloud/cloud.cfg.d/90_dpkg.cfg', 'datasource_list: [ NoCloud, None ]\n');
  // minbase has no `locales`: only the built-in C.UTF-8 exists, and cloud-init's default en_US.UTF-8 makes its locale
  // module fail (update-locale: invalid locale settings), which fails cloud-config.service on every first boot.
  await writeGuestFile(root, '/etc/cloud/cloud.cfg.d/91_locale.cfg', 'locale: C.UTF-8\n');
  await sh(['chroot', root, 'passwd', '--lock', 'root']);
  // The installer writes fstab and the host name; an empty machine-id makes systemd generate one on first boot.
  await writeGuestFile(root, '/etc/fstab', '');
  await writeGuestFile(root, '/etc/hostname', '');
  await writeGuestFile(root, '/etc/machine-id', '', 0o444);
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  await writeGuestFile(root, '/etc/hosts', LOCALHOST_HOSTS);
  await rm(join(root, 'etc/resolv.conf'), { force: true });
}

/**
 * `rootfs.tar.zst` of a Debian bookworm target OS that boots headless on serial once installed; beside it
 * `rootfs.json` (FixtureMeta). Numeric owners, xattrs and ACLs are kept: an image that loses them boots broken.
 */
export async function buildFixtureRootfs(): Promise<string> {
  const tree = await debootstrapTree({ name: 'fixture', packages: FIXTURE_PACKAGES });
  const dir = await cached('fixture-rootfs', { tree: basename(dirname(tree)), config: FIXTURE_CONFIG_VERSION }, async (tmp) => {
    const root = join(tmp, 'root');
    await copyTree(tree, root);
    await configureFixture(root);
    const unpackedBytes = await treeBytes(root);
    const tarball = join(tmp, 'rootfs.tar.zst');
    progress(`packing ${(unpackedBytes / 2 ** 20).toFixed(0)} MiB into ${basename(tarball)}`);
    await sh(['bash', '-o', 'pipefail', '-c', 'tar --numeric-owner --xattrs --acls -C "$1" -c . | zstd -q -T0 -3 -o "$2"', 'pack', root, tarball]);
    const inputs = JSON.parse(await readFile(join(dirname(tree), '.inputs.json'), 'utf8')) as { suite: string; packages: string[] };
    const meta: FixtureMeta = {
      unpackedBytes,
      tarballBytes: (await stat(tarball)).size,
      kernels: (await readdir(join(root, 'boot'))).filter((f) => f.startsWith('vmlinuz-')),
      suite: inputs.suite,
      packages: inputs.packages,
    };
    await writeFile(join(tmp, 'rootfs.json'), `${JSON.stringify(meta, null, 2)}\n`);
    await rm(root, { recursive: true });
  });
  return join(dir, 'rootfs.tar.zst');
}

export async function readFixtureMeta(tarball: string): Promise<FixtureMeta> {
  return JSON.parse(await readFile(join(dirname(tarball), 'rootfs.json'), 'utf8')) as FixtureMeta;
}
