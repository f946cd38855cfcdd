import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** Every command partition.service runs, in order: the plan prints exactly these. */
export function partitionCommands(plan: Plan, device: string): string[][] {
  const cmds: string[][] = [
    ['wipefs', '--all', '--force', device],
    ['sgdisk', '--zap-all', device],
    sgdiskCommand(plan, device),
    ['partprobe', device],
  ];
  for (const p of plan.partitions) {
    const dev = partitionDevice(device, p.number);
    const mkfs = mkfsCommand(p, dev, p.startSector);
    if (mkfs) cmds.push(['wipefs', '--all', '--force', dev], mkfs);
  }
  return cmds;
}

async function attachImage(ctx: StepContext): Promise<string> {
  const { stdout } = await ctx.exec(['losetup', '--find', '--show', '--partscan', ctx.plan.disk.path]);
  const loop = stdout.trim();
  ctx.defer(`detach ${loop}`, () => ctx.exec(['losetup', '--detach', loop]));
  return loop;
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
        'something may hold the disk open; run "partprobe" and "lsblk" on the console to see, or reboot the maintenance OS',
      );
    }
    if (++rereads % 10 === 0) await ctx.exec(['partprobe', device], { okExitCodes: [1] });
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
    await ctx.exec(['partprobe', device]);
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
