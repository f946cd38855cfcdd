// The BCD store names the ESP and the Windows partition by their GPT unique GUIDs and the disk by its GUID,
// all chosen by the plan and set by sgdisk. A store naming other GUIDs leaves Windows unbootable with no clue,
// so the GPT is read back before the store is written.
import type { PlannedPartition } from '../plan.ts';
import { StepError, type StepContext } from '../runner.ts';

export const sgdiskGuid = (text: string, field: 'Disk identifier (GUID)' | 'Partition unique GUID') =>
  new RegExp(`^${field.replace(/[()]/g, '\\$&')}:\\s*([0-9A-Fa-f-]{36})`, 'm').exec(text)?.[1]?.toLowerCase();

export async function checkGptGuids(ctx: StepContext, device: string, parts: PlannedPartition[]): Promise<void> {
  const disk = sgdiskGuid((await ctx.exec(['sgdisk', '--print', device])).stdout, 'Disk identifier (GUID)');
  if (disk !== ctx.plan.diskGuid.toLowerCase()) {
    throw new StepError(`${device} has disk GUID ${disk ?? '(none)'}, not the planned ${ctx.plan.diskGuid}`, 'the partition table changed under the install; start it again');
  }
  for (const p of parts) {
    const got = sgdiskGuid((await ctx.exec(['sgdisk', `--info=${p.number}`, device])).stdout, 'Partition unique GUID');
    if (got !== p.partGuid.toLowerCase()) {
      throw new StepError(
        `partition ${p.number} of ${device} has GUID ${got ?? '(none)'}, not the planned ${p.partGuid}`,
        'the partition table changed under the install; start it again',
      );
    }
  }
}
