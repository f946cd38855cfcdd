// partition.service: the planned GPT written and every filesystem made with its planned UUID. The commands, the
// wait for the kernel's partition nodes and the loop attach of an image file are in ops/partition.ts.
import { commandLine } from '../exec.ts';
import { partitionCommands, partitionDisk, reattachPartitions, useDisk, type PartitionCommand } from '../partition.ts';
import type { Step } from './step.ts';

/** A command as a shell would take it: what it reads on stdin as a here-document. */
function shownCommand(c: PartitionCommand): string[] {
  return c.input === undefined ? [commandLine(c.argv)] : [`${commandLine(c.argv)} <<'EOF'`, ...c.input.trimEnd().split('\n'), 'EOF'];
}

export const partitionStep: Step<'partition.service'> = {
  name: 'partition.service',
  title: 'Partition and format the disk',
  wanted: () => true,
  resumable: false,
  /** The very commands run() executes. */
  describe: (plan, device) => partitionCommands(plan, device).flatMap(shownCommand),
  async reattach(ctx) {
    await reattachPartitions(ctx, await useDisk(ctx));
  },
  async run(ctx) {
    await partitionDisk(ctx, await useDisk(ctx));
  },
};
