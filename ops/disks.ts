import { readFile, readdir, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { BY_ID, BY_PATH, deriveById, deriveByPath, readLinks, sysfsFacts, type NameFacts } from './disk-names.ts';
import { run } from './exec.ts';

/** One row of `lsblk --json --bytes --output-all`; only the columns we use, the rest passed through. */
const LsblkDevice: z.ZodType<LsblkDevice> = z.lazy(() =>
  z.looseObject({
    name: z.string(),
    path: z.string(),
    type: z.string(),
    size: z.number(),
    'log-sec': z.number().nullish(),
    model: z.string().nullish(),
    serial: z.string().nullish(),
    tran: z.string().nullish(),
    wwn: z.string().nullish(),
    subsystems: z.string().nullish(),
    vendor: z.string().nullish(),
    hctl: z.string().nullish(),
    rota: z.boolean().nullish(),
    hotplug: z.boolean().nullish(),
    'id-link': z.string().nullish(),
    ro: z.boolean(),
    rm: z.boolean().nullish(),
    pttype: z.string().nullish(),
    fstype: z.string().nullish(),
    label: z.string().nullish(),
    uuid: z.string().nullish(),
    parttypename: z.string().nullish(),
    mountpoints: z.array(z.string().nullable()).nullish(),
    children: z.array(LsblkDevice).optional(),
  }),
);
export interface LsblkDevice {
  name: string;
  path: string;
  type: string;
  size: number;
  'log-sec'?: number | null;
  model?: string | null;
  serial?: string | null;
  tran?: string | null;
  wwn?: string | null;
  subsystems?: string | null;
  vendor?: string | null;
  hctl?: string | null;
  rota?: boolean | null;
  hotplug?: boolean | null;
  'id-link'?: string | null;
  ro: boolean;
  rm?: boolean | null;
  pttype?: string | null;
  fstype?: string | null;
  label?: string | null;
  uuid?: string | null;
  parttypename?: string | null;
  mountpoints?: (string | null)[] | null;
  children?: LsblkDevice[];
}
const LsblkOutput = z.object({ blockdevices: z.array(LsblkDevice) });

export interface ExistingPartition {
  path: string;
  sizeBytes: number;
  fstype?: string;
  label?: string;
  uuid?: string;
  typeName?: string;
  mountpoints: string[];
}

export interface DiskFacts {
  /** What the recipe named: a block device or a disk image file. */
  path: string;
  kind: 'block' | 'image';
  name: string;
  sizeBytes: number;
  sectorSize: number;
  model?: string;
  serial?: string;
  transport?: string;
  wwn?: string;
  vendor?: string;
  /** SCSI Host:Channel:Target:Lun. */
  hctl?: string;
  rotational?: boolean;
  /** Removable media (lsblk RM): a BMC's virtual media, card readers, most USB sticks. */
  removable?: boolean;
  /** `/dev/disk/by-id` names: udev's links where they exist, else derived from these facts (ops/disk-names.ts). */
  byId?: string[];
  /** `/dev/disk/by-path` names, the same way. */
  byPath?: string[];
  /** The multipath device this disk is one path of (`mpatha`): the same disk is seen under several names. */
  multipathOf?: string;
  readOnly: boolean;
  partitionTable?: string;
  partitions: ExistingPartition[];
  /** Why this disk must not be written; empty when it is free. */
  inUse: string[];
  /** The running system booted from it (one of the reasons in `inUse`). */
  bootMedium: boolean;
}

const clean = (s: string | null | undefined) => (s && s.trim() !== '' ? s.trim() : undefined);
const mounts = (d: LsblkDevice) => (d.mountpoints ?? []).filter((m): m is string => !!m);

/** Mounts that mean "this is what the running system booted from". */
const BOOT_MOUNTS = ['/', '/boot', '/boot/efi', '/usr', '/sysroot', '/run/initramfs/live', '/run/rootfsbase', '/run/bootfs'];

async function listHolders(name: string): Promise<string[]> {
  try {
    return await readdir(`/sys/class/block/${name}/holders`);
  } catch {
    return [];
  }
}

async function activeSwaps(): Promise<string[]> {
  const text = await readFile('/proc/swaps', 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

function transportOf(d: LsblkDevice): string | undefined {
  if (d.tran) return d.tran;
  if (d.subsystems?.includes('virtio')) return 'virtio';
  if (d.name.startsWith('loop')) return 'loop';
  return undefined;
}

const bootMount = (d: LsblkDevice) => [d, ...(d.children ?? [])].flatMap((c) => mounts(c).map((m) => ({ dev: c.path, m }))).find((x) => BOOT_MOUNTS.includes(x.m));

/** The directory an install mounts its target under (linux/mounts.ts makes it with mkdtemp). */
const INSTALL_DIR = /(\/run\/shoal-install\/target-[^/]+|\/tmp\/shoal-install-target-[^/]+)(?=\/|$)/g;

/**
 * `/run/shoal-install/target-x/boot` -> `/run/shoal-install/target-x`; undefined for a mountpoint outside
 * them. A live install binds /run into its target, so another install's mount shows up a second time inside
 * it (`.../target-a/run/shoal-install/target-b`): that one belongs to target-b, never to the live target-a.
 */
export function installDirOf(mountpoint: string): string | undefined {
  const dirs = [...mountpoint.matchAll(INSTALL_DIR)];
  return dirs[0]?.index === 0 ? dirs.at(-1)![1] : undefined;
}

const mountsOf = (d: LsblkDevice) => [d, ...(d.children ?? [])].flatMap((c) => mounts(c).map((m) => ({ dev: c.path, m })));

/** Mounts of a disk that an installer left behind, when every mount of it is one: what to run to clear them. */
function leftByInstall(mounted: { m: string }[]): string[] | undefined {
  const dirs = mounted.map((x) => installDirOf(x.m));
  if (!dirs.length || dirs.some((d) => d === undefined)) return undefined;
  return [...new Set(dirs as string[])];
}

const STALE = 'left mounted by an install that did not finish (killed, or the machine lost power)';
const RERUN = 'starting the install again clears it when no other install holds the disk';

/** What fromLsblk reads from the machine besides lsblk; canned in unit tests. */
export interface DiskContext {
  swaps: string[];
  holders: (name: string) => Promise<string[]>;
  sysfs: (name: string) => Promise<Pick<NameFacts, 'sysPath' | 'sasAddress'>>;
  /** udev's /dev/disk/by-id and by-path links by device; undefined where udev made none. */
  byId?: Map<string, string[]>;
  byPath?: Map<string, string[]>;
}

async function machineContext(): Promise<DiskContext> {
  return { swaps: await activeSwaps(), holders: listHolders, sysfs: sysfsFacts, byId: await readLinks(BY_ID), byPath: await readLinks(BY_PATH) };
}

async function reasonsInUse(d: LsblkDevice, ctx: DiskContext): Promise<string[]> {
  const reasons: string[] = [];
  const all = [d, ...(d.children ?? [])];
  const mounted = mountsOf(d);
  const boot = bootMount(d);
  if (boot) reasons.push(`it is the running system's boot medium (${boot.dev} is mounted at ${boot.m})`);
  for (const x of mounted.filter((x) => x.dev !== boot?.dev || x.m !== boot.m)) reasons.push(`${x.dev} is mounted at ${x.m}`);
  const stale = leftByInstall(mounted);
  if (stale) reasons.push(`${STALE}: ${RERUN}, or run: umount --recursive ${stale.join(' ')}`);
  for (const c of all) if (ctx.swaps.includes(c.path)) reasons.push(`${c.path} is active swap`);
  for (const c of all) {
    const holders = await ctx.holders(c.name);
    if (holders.length) reasons.push(`${c.path} is held by ${holders.join(', ')} (RAID, LVM or device-mapper)`);
  }
  return reasons;
}

async function fromLsblk(d: LsblkDevice, ctx: DiskContext): Promise<DiskFacts> {
  const transport = transportOf(d);
  const names: NameFacts = {
    name: d.name,
    transport,
    model: clean(d.model),
    vendor: clean(d.vendor),
    serial: clean(d.serial),
    wwn: clean(d.wwn),
    hctl: clean(d.hctl),
    idLink: clean(d['id-link']),
    ...(await ctx.sysfs(d.name)),
  };
  const byId = ctx.byId ? (ctx.byId.get(d.path) ?? []) : deriveById(names);
  const byPath = ctx.byPath ? (ctx.byPath.get(d.path) ?? []) : deriveByPath(names);
  const mpath = (d.children ?? []).find((c) => c.type === 'mpath');
  return {
    path: d.path,
    kind: 'block',
    name: d.name,
    sizeBytes: d.size,
    sectorSize: d['log-sec'] ?? 512,
    model: names.model,
    serial: names.serial,
    transport,
    wwn: names.wwn,
    vendor: names.vendor,
    hctl: names.hctl,
    rotational: d.rota ?? undefined,
    removable: d.rm ?? undefined,
    byId,
    byPath,
    ...(mpath ? { multipathOf: mpath.name } : {}),
    readOnly: d.ro,
    partitionTable: clean(d.pttype),
    partitions: (d.children ?? [])
      .filter((c) => c.type === 'part')
      .map((c) => ({
        path: c.path,
        sizeBytes: c.size,
        fstype: clean(c.fstype),
        label: clean(c.label),
        uuid: clean(c.uuid),
        typeName: clean(c.parttypename),
        mountpoints: mounts(c),
      })),
    inUse: await reasonsInUse(d, ctx),
    bootMedium: bootMount(d) !== undefined,
  };
}

/** `lsblk --json --bytes --output-all` text -> its devices, checked. */
export function parseLsblk(text: string): LsblkDevice[] {
  return LsblkOutput.parse(JSON.parse(text)).blockdevices;
}

/** The disks among lsblk's devices (whole disks and loop devices with a size), with their facts. */
export function disksOf(devices: LsblkDevice[], ctx: DiskContext): Promise<DiskFacts[]> {
  return Promise.all(
    devices
      .filter((d) => d.type === 'disk' || d.type === 'loop')
      .filter((d) => d.size > 0)
      .map((d) => fromLsblk(d, ctx)),
  );
}

async function lsblk(args: string[]): Promise<LsblkDevice[]> {
  const { stdout } = await run(['lsblk', '--json', '--bytes', '--output-all', ...args]);
  return parseLsblk(stdout);
}

/** Loop devices already attached to an image file (`losetup -j`). */
export async function loopsOf(file: string): Promise<string[]> {
  const { stdout } = await run(['losetup', '--noheadings', '--output', 'NAME', '--associated', file]);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Every mount of a disk or its partitions. */
export async function diskMounts(device: string): Promise<{ dev: string; m: string }[]> {
  const [d] = await lsblk([device]);
  return d ? mountsOf(d) : [];
}

/** The install directories holding every mount of a disk, or undefined when it has none or others too. */
export async function staleInstallDirs(device: string): Promise<string[] | undefined> {
  return leftByInstall(await diskMounts(device));
}

async function imageInUse(loop: string): Promise<string> {
  const mounted = await diskMounts(loop).catch(() => []);
  if (!mounted.length) return `the image is attached as ${loop}: detach it first (losetup -d ${loop})`;
  const where = mounted.map((x) => `${x.dev} at ${x.m}`).join(', ');
  const stale = leftByInstall(mounted);
  if (stale) return `the image is attached as ${loop}, ${STALE} (${where}): ${RERUN}, or run: umount --recursive ${stale.join(' ')} && losetup -d ${loop}`;
  return `the image is attached as ${loop} and mounted (${where}): unmount and detach it first (umount ..., then losetup -d ${loop})`;
}

export class DiskError extends Error {
  override name = 'DiskError';
}

/** Facts about the target: what it is, how big, and every reason it may not be written. */
export async function inspectDisk(path: string): Promise<DiskFacts> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new DiskError(`${path} does not exist: check the disk name (lsblk lists the disks)`);
  if (st.isFile()) {
    const loops = await loopsOf(path);
    return {
      path,
      kind: 'image',
      name: basename(path),
      sizeBytes: st.size,
      sectorSize: 512,
      readOnly: false,
      partitions: [],
      inUse: await Promise.all(loops.map((l) => imageInUse(l))),
      bootMedium: false,
    };
  }
  if (!st.isBlockDevice()) throw new DiskError(`${path} is neither a block device nor a disk image file`);
  const [dev] = await lsblk(['--nodeps', path]);
  if (!dev) throw new DiskError(`lsblk does not know ${path}`);
  if (dev.type === 'part') throw new DiskError(`${path} is a partition; name the whole disk (e.g. /dev/sda, /dev/nvme0n1)`);
  const [full] = await lsblk([path]);
  return fromLsblk(full ?? dev, await machineContext());
}

/** Every disk the machine has, for the console's disk picker and for target_disk_hints. */
export async function listDisks(): Promise<DiskFacts[]> {
  const ctx = await machineContext();
  return disksOf(await lsblk([]), ctx);
}

/** How a plan names an image file's loop device, which is only known once attached. */
export const LOOP_PLACEHOLDER = '/dev/loopN';

/** `sda` -> `sda1`, `nvme0n1` -> `nvme0n1p1`: names ending in a digit (and loop devices) take a `p`. */
export function partitionDevice(disk: string, n: number): string {
  return /\d$/.test(disk) || disk === LOOP_PLACEHOLDER ? `${disk}p${n}` : `${disk}${n}`;
}

const q = (s: string) => `"${s}"`;

/** What is on a disk now, as far as lsblk's partition table, filesystem types and labels tell. */
export function foundOnDisk(d: DiskFacts): string | undefined {
  const parts = d.partitions;
  if (!parts.length) return d.partitionTable ? `an empty ${d.partitionTable} partition table` : undefined;
  const type = (p: (typeof parts)[number]) => (p.typeName ?? '').toLowerCase();
  const has = (f: (p: (typeof parts)[number]) => boolean) => parts.some(f);
  const esp = has((p) => type(p).includes('efi system') || (p.fstype === 'vfat' && /^(efi|esp|system)$/i.test(p.label ?? '')));
  const extras = esp ? ', EFI' : '';
  if (has((p) => p.fstype === 'ntfs' || type(p).includes('microsoft reserved'))) {
    const win = parts.find((p) => p.fstype === 'ntfs');
    return `Windows?: NTFS${win?.label ? ` ${q(win.label)}` : ''}${extras}`;
  }
  if (has((p) => (p.fstype ?? '').toLowerCase().includes('vmfs') || type(p).includes('vmware'))) return 'VMware ESXi?';
  if (has((p) => p.fstype === 'LVM2_member')) return `Linux?: LVM${extras}`;
  if (has((p) => p.fstype === 'linux_raid_member')) return `a RAID member${extras}`;
  if (has((p) => p.fstype === 'zfs_member')) return 'ZFS pool member';
  const linux = parts.find((p) => ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs'].includes(p.fstype ?? ''));
  if (linux) return `Linux?: ${linux.fstype}${linux.label ? ` ${q(linux.label)}` : ''}${extras}`;
  const fs = [...new Set(parts.map((p) => p.fstype).filter(Boolean))];
  return fs.length ? `filesystems: ${fs.join(', ')}` : `${parts.length} partition(s), no filesystem found`;
}
