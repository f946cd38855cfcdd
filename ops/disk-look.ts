/**
 * Look at what is on the target now. Each filesystem is mounted read-only (nosuid, nodev, noexec; no journal
 * replayed) on a directory of its own and let go at once: the disk is untrusted, and nothing on it is written.
 * os-release is read through ops/in-root.ts (the disk's symlinks stay inside it); a Windows SOFTWARE hive's
 * ProductName through hivexget.
 */
import { mkdtemp, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiskContents, FoundVolume } from './disk-contents.ts';
import type { DiskFacts } from './disks.ts';
import { run } from './exec.ts';
import { resolveInRoot } from './in-root.ts';
import { readOsRelease } from './linux/os-release.ts';

const LINUX_FS = ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs'];
const HIVE = 'Windows/System32/config/SOFTWARE';
/** A mount or a hive read of an untrusted disk must not hang the plan. */
const TIMEOUT_MS = 60_000;

/** Read-only, nothing executable or device-like honoured, and no journal replayed (which would write). */
export function inspectMountOptions(fstype: string): string[] {
  const base = ['ro', 'nosuid', 'nodev', 'noexec'];
  if (fstype === 'ext3' || fstype === 'ext4') base.push('noload');
  if (fstype === 'xfs' || fstype === 'btrfs') base.push(fstype === 'xfs' ? 'norecovery' : 'nologreplay');
  return base;
}

/** Names read off an untrusted disk are shown on terminals: no control characters (escape sequences), bounded. */
const printable = (text: string, max: number) =>
  text
    .replace(/[\x00-\x1f\x7f-\x9f]/g, '')
    .trim()
    .slice(0, max);

async function productName(root: string): Promise<string | undefined> {
  const hive = await resolveInRoot(root, HIVE).catch(() => undefined);
  if (!hive) return undefined;
  const { stdout } = await run(['hivexget', hive, 'Microsoft\\Windows NT\\CurrentVersion', 'ProductName'], { signal: AbortSignal.timeout(TIMEOUT_MS) }).catch(() => ({
    stdout: '',
  }));
  return printable(stdout, 120) || 'Windows (no product name in its SOFTWARE hive)';
}

/** Mount one volume read-only, look, let go. */
async function lookInside(v: FoundVolume): Promise<FoundVolume> {
  const fstype = v.fstype!;
  const type = fstype === 'ntfs' ? 'ntfs-3g' : fstype;
  const dir = await mkdtemp(join(tmpdir(), 'shoal-install-look-'));
  try {
    await run(['mount', '-t', type, '-o', inspectMountOptions(fstype).join(','), v.device, dir], { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    await rmdir(dir).catch(() => undefined);
    const why =
      (e as Error).message
        .split('\n')
        .find((l) => l.trim())
        ?.trim() ?? 'mount failed';
    return { ...v, note: `could not be mounted read-only to look inside (${why.slice(0, 160)})` };
  }
  try {
    const st = await statfs(dir);
    const usedBytes = (st.blocks - st.bfree) * st.bsize;
    if (fstype === 'ntfs') {
      const name = await productName(dir);
      return { ...v, usedBytes, ...(name ? { os: { kind: 'windows', id: 'windows', name } } : {}) };
    }
    const rel = await readOsRelease(dir).catch(() => ({}) as Record<string, string>);
    const id = rel.ID?.toLowerCase()
      .replace(/[^a-z0-9._-]/g, '')
      .slice(0, 64);
    if (!id) return { ...v, usedBytes };
    const name = printable(rel.PRETTY_NAME ?? rel.NAME ?? id, 120) || id;
    return { ...v, usedBytes, os: { kind: 'linux', id, name } };
  } finally {
    await run(['umount', dir]).catch(() => run(['umount', '--lazy', dir]).catch(() => undefined));
    await rmdir(dir).catch(() => undefined);
  }
}

/** blkid's own probe of a device: lsblk only knows filesystems from udev's database, and without udev it knows none. */
async function probe(dev: string): Promise<Record<string, string>> {
  const { stdout } = await run(['blkid', '--probe', '--output', 'export', dev], { okExitCodes: [2], signal: AbortSignal.timeout(TIMEOUT_MS) });
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const probed = (dev: string) => probe(dev).catch(() => ({}) as Record<string, string>);

/** What is on the disk now. Mounts read-only, writes nothing; a disk in use or an image file is not looked into. */
export async function diskContents(disk: DiskFacts): Promise<DiskContents> {
  if (disk.kind === 'image') return { examined: false, note: 'a disk image file: its contents are not examined', volumes: [] };
  if (disk.inUse.length) return { examined: false, note: 'in use: not examined', partitionTable: disk.partitionTable, volumes: [] };
  const whole = await probed(disk.path);
  const partitionTable = disk.partitionTable ?? whole.PTTYPE;
  const volumes: FoundVolume[] = [];
  for (const p of disk.partitions) {
    const sig = p.fstype ? {} : await probed(p.path);
    const label = p.label ?? sig.LABEL;
    volumes.push({ device: p.path, sizeBytes: p.sizeBytes, fstype: p.fstype ?? sig.TYPE, ...(label ? { label: printable(label, 64) } : {}) });
  }
  if (!disk.partitions.length && whole.TYPE) {
    volumes.push({ device: disk.path, sizeBytes: disk.sizeBytes, fstype: whole.TYPE, ...(whole.LABEL ? { label: printable(whole.LABEL, 64) } : {}) });
  }
  const looked: FoundVolume[] = [];
  for (const v of volumes) {
    looked.push(v.fstype && (LINUX_FS.includes(v.fstype) || v.fstype === 'ntfs') ? await lookInside(v) : v);
  }
  return { examined: true, partitionTable, volumes: looked };
}
