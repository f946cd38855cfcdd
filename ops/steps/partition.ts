// partition.service: the planned GPT written and every filesystem made with its planned UUID. The commands and
// the loop attach of an image file are in ops/partition.ts.
import { commandLine } from '../exec.ts';
import { partitionCommands, partitionStep as partitioning, type PartitionCommand } from '../partition.ts';
import type { Step } from './step.ts';

/** A command as a shell would take it: what it reads on stdin as a here-document. */
function shownCommand(c: PartitionCommand): string[] {
  return c.input === undefined ? [commandLine(c.argv)] : [`${commandLine(c.argv)} <<'EOF'`, ...c.input.trimEnd().split('\n'), 'EOF'];
}

export const partitionStep: Step<'partition.service'> = {
  ...partitioning,
  name: 'partition.service',
  wanted: () => true,
  resumable: false,
  /** The very commands run() executes. */
  describe: (plan, device) => partitionCommands(plan, device).flatMap(shownCommand),
};
