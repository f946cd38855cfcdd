/**
 * Finding the task ISO: the job's second virtual medium, with `recipe.json` at its root. Any optical, removable
 * or USB drive may hold it (BMCs attach virtual media as USB CD-ROMs or USB disks, and the maintenance ISO may be
 * sr0 or sr1), except the medium the running system booted from. Drives are looked up again on every round:
 * virtual media may show up a few seconds after boot.
 */
import { mkdir, readFile, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readRegularFile } from './bounded-input.ts';
import { run } from './exec.ts';
import { exists } from './exists.ts';
import { readMountinfo } from './mountinfo.ts';

/** Where the task ISO is mounted (read-only). Recipe payloads on it are `{"path": "/run/shoal/task/..."}`. */
export const TASK_MOUNT = '/run/shoal/task';
/** Files beside recipe.json on the task ISO. */
export const TASK_FILES = {
  recipe: 'recipe.json',
  schema: 'recipe.schema.json',
  webhookSecret: 'webhook_secret',
  registryPassword: 'registry_password',
  registryUsername: 'registry_username',
} as const;

/** Where a live system's boot medium is mounted: live-boot (Debian), dracut's dmsquash-live, older live-boot. */
const BOOT_MEDIUM_MOUNTS: readonly string[] = ['/run/live/medium', '/run/initramfs/live', '/lib/live/mount/medium'];

export interface Task {
  recipeText: string;
  /** Shown on the console: where the recipe came from. */
  from: string;
  /** The directory beside recipe.json (the mounted ISO, --task-dir, or the recipe file's directory). */
  dir?: string;
  release: () => Promise<void>;
}

/** The task ISO is missing or unusable; `dir` when it was found (its webhook_secret still counts). */
export class TaskIsoError extends Error {
  constructor(
    message: string,
    readonly dir?: string,
    /** What to do, when not the usual (attach the task ISO). */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TaskIsoError';
  }
}

/** A drive that may hold the task ISO. */
export interface Drive {
  device: string;
  /** Why it is a candidate: "optical", "removable", "USB". */
  kind: string;
  /** Known to hold no medium right now (an empty CD drive): not mounted, looked at again next round. */
  empty?: boolean;
  /** Set when it is the running system's boot medium: never mounted. */
  bootMedium?: string;
}

export type MountFn = (device: string, at: string) => Promise<() => Promise<void>>;

export interface FindOptions {
  /** Where to mount it (default TASK_MOUNT). */
  at?: string;
  /** The bound: give up after this long. */
  waitSeconds: number;
  /**
   * With nothing left to wait for (no drive at all, or every drive checked and none holds recipe.json), give up
   * after this long instead of the whole wait. Default: the whole wait.
   */
  graceSeconds?: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Mounts read-only and returns the unmount; default `mount -o ro -t iso9660`. */
  mount?: MountFn;
  /** The drives to try, asked again every round. Default: removableDrives(). */
  drives?: () => Promise<Drive[]>;
  /** How the console names the drives looked at. */
  what?: string;
}

const readText = (p: string) =>
  readFile(p, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
async function isMountPoint(dir: string): Promise<boolean> {
  return (await readMountinfo()).some((m) => m.mountpoint === dir);
}

export const mountCommand = (device: string, at: string, type = 'iso9660') => ['mount', '-o', 'ro', '-t', type, device, at];

/**
 * `mount -o ro -t iso9660 DEV AT` (after unmounting a stale mount from an earlier run); returns the unmount.
 * `type` is for tests on kernels without iso9660.
 */
export async function mountIso(device: string, at: string, type = 'iso9660'): Promise<() => Promise<void>> {
  await mkdir(at, { recursive: true });
  if (await isMountPoint(at)) await run(['umount', at]);
  await run(mountCommand(device, at, type));
  return async () => {
    await run(['umount', at]).catch(() => undefined);
  };
}

export interface SysfsView {
  /** Default /sys. */
  sysRoot?: string;
  /** Default /dev. */
  devDir?: string;
  /** Default /proc/self/mountinfo. */
  mountinfo?: string;
}

/**
 * The whole-disk names of the boot medium: the block devices mounted at BOOT_MEDIUM_MOUNTS, mapped through
 * `/sys/dev/block/MAJ:MIN` to their disk (a partition's parent), with where each is mounted.
 */
async function bootMediumDisks(view: Required<SysfsView>): Promise<Map<string, string>> {
  const disks = new Map<string, string>();
  for (const { devNumber, mountpoint: at } of await readMountinfo(view.mountinfo)) {
    if (!BOOT_MEDIUM_MOUNTS.includes(at)) continue;
    const node = await realpath(join(view.sysRoot, 'dev/block', devNumber)).catch(() => undefined);
    if (!node) continue;
    const disk = (await exists(join(node, 'partition'))) ? basename(dirname(node)) : basename(node);
    disks.set(disk, at);
  }
  return disks;
}

/**
 * Every optical, removable or USB whole disk the kernel lists in /sys/block, the boot medium marked. Optical
 * drives first, the highest number first (the task ISO is usually attached after the maintenance ISO), then the rest.
 */
export async function removableDrives(view: SysfsView = {}): Promise<Drive[]> {
  const v = { sysRoot: view.sysRoot ?? '/sys', devDir: view.devDir ?? '/dev', mountinfo: view.mountinfo ?? '/proc/self/mountinfo' };
  const boot = await bootMediumDisks(v);
  const names = await readdir(join(v.sysRoot, 'block')).catch(() => [] as string[]);
  const drives: (Drive & { name: string; optical: boolean })[] = [];
  for (const name of names) {
    const dir = join(v.sysRoot, 'block', name);
    // SCSI peripheral type 5 is a CD/DVD drive; sr* are the kernel's names for them.
    const optical = name.startsWith('sr') || (await readText(join(dir, 'device/type'))) === '5';
    const removable = (await readText(join(dir, 'removable'))) === '1';
    const usb = ((await realpath(dir).catch(() => dir)) + '/').includes('/usb');
    if (!optical && !removable && !usb) continue;
    const at = boot.get(name);
    drives.push({
      name,
      optical,
      device: join(v.devDir, name),
      kind: optical ? 'optical' : usb ? 'USB' : 'removable',
      empty: (await readText(join(dir, 'size'))) === '0',
      ...(at ? { bootMedium: `the boot medium (mounted at ${at})` } : {}),
    });
  }
  const byNumber = (a: string, b: string) => b.localeCompare(a, 'en', { numeric: true });
  drives.sort((a, b) => (a.optical === b.optical ? (a.optical ? byNumber(a.name, b.name) : a.name.localeCompare(b.name)) : a.optical ? -1 : 1));
  return drives.map(({ device, kind, empty, bootMedium }) => ({ device, kind, ...(empty ? { empty } : {}), ...(bootMedium ? { bootMedium } : {}) }));
}

/** Exactly these devices (`shoal.recipe=/dev/sr2`), as far as their nodes exist. */
export function namedDrives(devices: readonly string[]): () => Promise<Drive[]> {
  return async () => {
    const present: Drive[] = [];
    for (const device of devices) if (await exists(device)) present.push({ device, kind: 'named' });
    return present;
  };
}

/** recipe.json in `dir` (a mounted ISO, or a directory standing in for one). */
export async function readTaskDir(dir: string, from: string, release: () => Promise<void>): Promise<Task> {
  const bytes = await readRegularFile(join(dir, TASK_FILES.recipe), TASK_FILES.recipe).catch(async (e: Error) => {
    await release();
    throw new TaskIsoError(`no usable ${TASK_FILES.recipe} in ${from}: ${e.message}`, dir);
  });
  return { recipeText: bytes.toString('utf8'), from, dir, release };
}

/**
 * Wait (bounded) for a drive holding an ISO with recipe.json at its root, and mount it. A drive that mounts
 * without recipe.json (the maintenance ISO) is not tried again; one without a medium, or that fails to mount, is.
 * The boot medium is never mounted. Returns as soon as the task ISO is found.
 */
export async function findTaskIso(opts: FindOptions, say: (m: string) => void): Promise<Task> {
  const at = opts.at ?? TASK_MOUNT;
  const mount = opts.mount ?? mountIso;
  const listDrives = opts.drives ?? (() => removableDrives());
  const what = opts.what ?? 'any optical, removable or USB drive';
  const started = Date.now();
  const deadline = started + opts.waitSeconds * 1000;
  const graceEnd = started + Math.min(opts.graceSeconds ?? opts.waitSeconds, opts.waitSeconds) * 1000;
  const why = new Map<string, string>();
  const done = new Set<string>();
  let announced = false;
  for (;;) {
    let waitingFor = false;
    for (const drive of await listDrives()) {
      const { device } = drive;
      if (drive.bootMedium) {
        why.set(device, `${drive.bootMedium}, skipped`);
        continue;
      }
      if (done.has(device)) continue;
      waitingFor = true;
      if (drive.empty) {
        why.set(device, `${drive.kind} drive, no medium`);
        continue;
      }
      let release: () => Promise<void>;
      try {
        release = await mount(device, at);
      } catch (e) {
        why.set(device, (e as Error).message.split('\n').slice(-1)[0]!.trim());
        continue;
      }
      if (await exists(join(at, TASK_FILES.recipe))) return readTaskDir(at, `the task ISO on ${device} (mounted at ${at})`, release);
      await release();
      done.add(device);
      why.set(device, `an ISO without ${TASK_FILES.recipe} at its root (the maintenance ISO?)`);
    }
    const now = Date.now();
    if (now >= deadline || (!waitingFor && now >= graceEnd)) break;
    if (!announced) say(`looking for the task ISO (${TASK_FILES.recipe} at its root) on ${what}, up to ${opts.waitSeconds} s`);
    announced = true;
    const until = waitingFor ? deadline : graceEnd;
    await sleep(Math.min(opts.pollMs ?? 1000, Math.max(until - now, 0)), undefined, { signal: opts.signal });
  }
  const seen = why.size ? [...why].map(([d, w]) => `${d}: ${w}`).join('; ') : `nothing on ${what}`;
  const took = Math.round((Date.now() - started) / 1000);
  throw new TaskIsoError(`no task ISO with ${TASK_FILES.recipe} found within ${took} s (${seen})`);
}
