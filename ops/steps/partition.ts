// partition.service: the planned GPT written and every filesystem made with its planned UUID. The commands and
// the loop attach of an image file are in ops/partition.ts.
import { commandLine } from '../exec.ts';
import { partitionCommands, partitionStep as partitioning } from '../partition.ts';
import type { Step } from './step.ts';

export const partitionStep: Step<'partition.service'> = {
  ...partitioning,
  name: 'partition.service',
  wanted: () => true,
  resumable: false,
  /** The very commands run() executes. */
  describe: (plan, device) => partitionCommands(plan, device).map((c) => commandLine(c)),
};
