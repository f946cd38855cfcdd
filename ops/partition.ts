import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskBusy, lockDisk } from './disk-lock.ts';
import { partitionDevice } from './disks.ts';
import { mkfsCommand, parseBlkid } from './filesystems.ts';
import { typeGuid } from './gpt-types.ts';
import type { Plan } from './plan.ts';
import { StepError, type StepContext } from './runner.ts';

export interface PartitionCommand {
  argv: string[];
  /** What the command reads on stdin (sfdisk's script). */
  input?: string;
}

/** A GPT name for sfdisk's script: every byte but plain ones as \xHH, so no label can end the field or the line. */
const sfdiskName = (name: string) =>
  [...Buffer.from(name)].map((b) => (/[A-Za-z0-9 _.:+-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');

/** The planned table as an sfdisk script: the disk GUID, and each partition's place, type, GUID, name and flags. */
export function sfdiskScript(plan: Plan): string {
  const lines = [
    'label: gpt',
    `label-id: ${plan.diskGuid}`,
    'unit: sectors',
    // Where sgdisk put it: the header and 128 entries of 128 bytes after the protective MBR.
    `first-lba: ${2 + Math.ceil((128 * 128) / plan.disk.sectorSize)}`,
  ];
  for (const p of plan.partitions) {
    const type = typeGuid(p.typeCode);
    // The recipe's schema admits only known codes; a plan made some other way must not reach the disk either.
    if (!type) throw new StepError(`partition ${p.number} has type code ${p.typeCode}, which has no known GPT type GUID`, 'use a full type GUID');
    const attrs = p.bootable && p.role !== 'esp' ? ', attrs="LegacyBIOSBootable"' : '';
    lines.push(`start=${p.startSector}, size=${p.endSector - p.startSector + 1}, type=${type}, uuid=${p.partGuid}, name="${sfdiskName(p.name)}"${attrs}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One pass, no sleeps (sgdisk sleeps a second after each write): old signatures on the disk and in the new
 * partitions wiped, the primary and backup GPT written whole whatever was there before. The kernel is told
 * afterwards by partx, as below.
 */
export function sfdiskCommand(plan: Plan, device: string): PartitionCommand {
  return {
    argv: ['sfdisk', '--quiet', '--wipe', 'always', '--wipe-partitions', 'always', '--no-reread', '--no-tell-kernel', device],
    input: sfdiskScript(plan),
  };
}

/**
 * The kernel is told of each partition (BLKPG) and makes its node itself. Not partprobe: libparted then runs
 * `udevadm settle`, and udev holds back a disk's events while we hold the disk's lock, so settle waits out its
 * whole timeout (seen: four minutes in the maintenance OS). Not `blockdev --rereadpt` either: on loop devices
 * some kernels then add no partitions.
 */
const rereadCommand = (device: string) => ['partx', '--update', device];

/** Every command partition.service runs, in order: the plan prints exactly these. */
export function partitionCommands(plan: Plan, device: string): PartitionCommand[] {
  const cmds: PartitionCommand[] = [sfdiskCommand(plan, device), { argv: rereadCommand(device) }];
  for (const p of plan.partitions) {
    const mkfs = mkfsCommand(p, partitionDevice(device, p.number), p.startSector);
    if (mkfs) cmds.push({ argv: mkfs });
  }
  return cmds;
}

/** How often to pick another loop device when a process takes the free one between the look and the attach. */
// Installs started together all get the same device from `losetup --find` until the first one has attached it:
// enough tries, at random intervals, for a rack of installs on one machine to sort themselves out.
const ATTACH_TRIES = 40;

/** `INODE MAJOR:MINOR` of a file, as losetup reports a loop device's backing file (whose path may be deleted by now). */
const fileId = (st: { ino: number; dev: number }) => `${st.ino} ${(st.dev >>> 8) & 0xfff}:${(st.dev & 0xff) | ((st.dev >>> 12) & 0xfff00)}`;

async function backingId(ctx: StepContext, loop: string): Promise<string> {
  const { stdout } = await ctx.exec(['losetup', '--noheadings', '--output', 'BACK-INO,BACK-MAJ:MIN', loop], { okExitCodes: [1] });
  return stdout.trim().split(/\s+/).join(' ');
}

/**
 * Attach the image to a loop device picked beforehand, so that its detach is registered before the attach can
 * happen: an abort during losetup leaves nothing attached. The loop device is locked like any target disk, so
 * an install that names it cannot start while this one uses it (and its lock outlasts the detach).
 */
async function attachImage(ctx: StepContext): Promise<string> {
  const image = ctx.plan.disk.path;
  const id = fileId(await stat(image));
  for (let tries = 1; ; tries++) {
    const loop = (await ctx.exec(['losetup', '--find'])).stdout.trim();
    // The kernel may create the node just now (loop-control), and devtmpfs shows it a moment later.
    const lock = await lockDisk(loop).catch((e: unknown) => {
      if (e instanceof DiskBusy) return undefined;
      throw e;
    });
    if (lock) {
      ctx.defer(`unlock ${loop}`, async () => lock.release());
      ctx.defer(`detach ${loop}`, async () => {
        if ((await backingId(ctx, loop)) === id) await ctx.exec(['losetup', '--detach', loop]);
      });
      const attached = await ctx.exec(['losetup', '--partscan', loop, image]).then(
        () => true,
        (e: unknown) => {
          if (ctx.signal.aborted || tries >= ATTACH_TRIES) throw e;
          return false;
        },
      );
      if (attached) return loop;
    } else if (tries >= ATTACH_TRIES) {
      throw new StepError(`no free loop device could be locked for ${image} (last tried ${loop})`, 'see "losetup --list" for what holds them');
    }
    await sleep(50 + Math.random() * 200, undefined, { signal: ctx.signal });
  }
}

async function isBlockDevice(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isBlockDevice(),
    () => false,
  );
}

/** No udev here: the kernel makes the nodes in devtmpfs after partx, but not at once, so poll for them (briefly: they take milliseconds). */
async function waitForPartitions(ctx: StepContext, device: string, timeoutMs = 15000): Promise<void> {
  const want = ctx.plan.partitions.map((p) => partitionDevice(device, p.number));
  const started = Date.now();
  let lastReread = started;
  for (;;) {
    const present = await Promise.all(want.map(isBlockDevice));
    if (present.every(Boolean)) return;
    if (Date.now() - started > timeoutMs) {
      const missing = want.filter((_, i) => !present[i]);
      throw new StepError(
        `the kernel did not create ${missing.join(', ')} after re-reading the partition table of ${device}`,
        `something may hold the disk open; run "partx --update ${device}" and "lsblk" on the console to see, or reboot the maintenance OS`,
      );
    }
    if (Date.now() - lastReread > 2000) {
      await ctx.exec(rereadCommand(device), { okExitCodes: [1] });
      lastReread = Date.now();
    }
    await sleep(5);
  }
}

/** Every one of `jobs` to its end, side by side (so none is left running when one fails); then the first failure. */
async function allSettled<T>(jobs: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

async function checkUuids(ctx: StepContext, device: string): Promise<void> {
  const formatted = ctx.plan.partitions.filter((p) => p.format !== 'raw' && p.format !== 'none');
  const found = await allSettled(formatted.map((p) => ctx.exec(['blkid', '--probe', '--output', 'export', partitionDevice(device, p.number)])));
  formatted.forEach((p, i) => {
    const dev = partitionDevice(device, p.number);
    const uuid = parseBlkid(found[i]!.stdout).UUID;
    if (!uuid) throw new StepError(`no filesystem was found on ${dev} after mkfs`, 'the disk may be failing; check dmesg');
    if (p.fsUuid && uuid.toLowerCase() !== p.fsUuid.toLowerCase()) {
      throw new StepError(`${dev} has UUID ${uuid}, not the planned ${p.fsUuid}`, 'another device may have answered; check the target disk');
    }
    ctx.state.fsUuids[p.number] = uuid;
  });
}

/** The disk's block device: the target disk itself, or the loop device its image file is attached to. */
export async function useDisk(ctx: StepContext): Promise<string> {
  const device = ctx.plan.disk.kind === 'image' ? await attachImage(ctx) : ctx.plan.disk.path;
  ctx.state.device = device;
  return device;
}

/** Write the planned table, wait for the kernel's partition nodes, make the filesystems and check their UUIDs. */
export async function partitionDisk(ctx: StepContext, device: string): Promise<void> {
  const [table, reread, ...mkfs] = partitionCommands(ctx.plan, device);
  await ctx.exec(table!.argv, { input: table!.input });
  await ctx.exec(reread!.argv);
  await waitForPartitions(ctx, device);
  for (const p of ctx.plan.partitions) ctx.state.partitionDevices[p.number] = partitionDevice(device, p.number);
  // Each on its own partition, so side by side: on a loop disk they wait on the kernel more than they compute.
  await allSettled(mkfs.map((cmd) => ctx.exec(cmd.argv)));
  await checkUuids(ctx, device);
}

/** A retry's pick-up of the partitions an earlier attempt made: their planned UUIDs prove they are still this plan's. */
export async function reattachPartitions(ctx: StepContext, device: string): Promise<void> {
  await ctx.exec(rereadCommand(device));
  await waitForPartitions(ctx, device);
  for (const p of ctx.plan.partitions) ctx.state.partitionDevices[p.number] = partitionDevice(device, p.number);
  await checkUuids(ctx, device);
}
