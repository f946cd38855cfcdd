import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskBusy, lockDisk } from './disk-lock.ts';
import { partitionDevice } from './disks.ts';
import { mkfsCommand, parseBlkid } from './filesystems.ts';
import type { Plan } from './plan.ts';
import { StepError, type StepContext, type StepImpl } from './runner.ts';

export function sgdiskCommand(plan: Plan, device: string): string[] {
  const args = ['sgdisk', '--clear', `--disk-guid=${plan.diskGuid}`];
  for (const p of plan.partitions) {
    args.push(
      `--new=${p.number}:${p.startSector}:${p.endSector}`,
      `--typecode=${p.number}:${p.typeCode}`,
      `--change-name=${p.number}:${p.name}`,
      `--partition-guid=${p.number}:${p.partGuid}`,
    );
    if (p.bootable && p.role !== 'esp') args.push(`--attributes=${p.number}:set:2`);
  }
  return [...args, device];
}

/**
 * The kernel is told of each partition (BLKPG) and makes its node itself. Not partprobe: libparted then runs
 * `udevadm settle`, and udev holds back a disk's events while we hold the disk's lock, so settle waits out its
 * whole timeout (seen: four minutes in the maintenance OS). Not `blockdev --rereadpt` either: on loop devices
 * some kernels then add no partitions.
 */
const rereadCommand = (device: string) => ['partx', '--update', device];

/** Every command partition.service runs, in order: the plan prints exactly these. */
export function partitionCommands(plan: Plan, device: string): string[][] {
  const cmds: string[][] = [
    ['wipefs', '--all', '--force', device],
    ['sgdisk', '--zap-all', device],
    sgdiskCommand(plan, device),
    rereadCommand(device),
  ];
  for (const p of plan.partitions) {
    const dev = partitionDevice(device, p.number);
    const mkfs = mkfsCommand(p, dev, p.startSector);
    if (mkfs) cmds.push(['wipefs', '--all', '--force', dev], mkfs);
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
  return stat(path).then((s) => s.isBlockDevice(), () => false);
}

/** No udev here: the kernel makes the nodes in devtmpfs after a re-read, but not at once, so poll for them. */
async function waitForPartitions(ctx: StepContext, device: string, timeoutMs = 15000): Promise<void> {
  const want = ctx.plan.partitions.map((p) => partitionDevice(device, p.number));
  const deadline = Date.now() + timeoutMs;
  let rereads = 0;
  for (;;) {
    const present = await Promise.all(want.map(isBlockDevice));
    if (present.every(Boolean)) return;
    if (Date.now() > deadline) {
      const missing = want.filter((_, i) => !present[i]);
      throw new StepError(
        `the kernel did not create ${missing.join(', ')} after re-reading the partition table of ${device}`,
        `something may hold the disk open; run "partx --update ${device}" and "lsblk" on the console to see, or reboot the maintenance OS`,
      );
    }
    if (++rereads % 10 === 0) await ctx.exec(rereadCommand(device), { okExitCodes: [1] });
    await sleep(200);
  }
}

async function checkUuids(ctx: StepContext, device: string): Promise<void> {
  for (const p of ctx.plan.partitions) {
    if (p.format === 'raw' || p.format === 'none') continue;
    const dev = partitionDevice(device, p.number);
    const { stdout } = await ctx.exec(['blkid', '--probe', '--output', 'export', dev]);
    const uuid = parseBlkid(stdout).UUID;
    if (!uuid) throw new StepError(`no filesystem was found on ${dev} after mkfs`, 'the disk may be failing; check dmesg');
    if (p.fsUuid && uuid.toLowerCase() !== p.fsUuid.toLowerCase()) {
      throw new StepError(`${dev} has UUID ${uuid}, not the planned ${p.fsUuid}`, 'another device may have answered; check the target disk');
    }
    ctx.state.fsUuids[p.number] = uuid;
  }
}

async function useDisk(ctx: StepContext): Promise<string> {
  const device = ctx.plan.disk.kind === 'image' ? await attachImage(ctx) : ctx.plan.disk.path;
  ctx.state.device = device;
  return device;
}

export const partitionStep: StepImpl = {
  title: 'Partition and format the disk',
  /** The planned UUIDs prove the partitions are still the ones this plan made. */
  async reattach(ctx) {
    const device = await useDisk(ctx);
    await ctx.exec(rereadCommand(device));
    await waitForPartitions(ctx, device);
    for (const p of ctx.plan.partitions) ctx.state.partitionDevices[p.number] = partitionDevice(device, p.number);
    await checkUuids(ctx, device);
  },
  async run(ctx) {
    const device = await useDisk(ctx);
    const [wipe, zap, create, probe, ...mkfs] = partitionCommands(ctx.plan, device);
    await ctx.exec(wipe!);
    await ctx.exec(zap!, { okExitCodes: [2] });
    await ctx.exec(create!);
    await ctx.exec(probe!);
    await waitForPartitions(ctx, device);
    for (const p of ctx.plan.partitions) ctx.state.partitionDevices[p.number] = partitionDevice(device, p.number);
    for (const cmd of mkfs) await ctx.exec(cmd);
    await checkUuids(ctx, device);
  },
};
