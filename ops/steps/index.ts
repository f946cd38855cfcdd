// The registry of Shoal steps. Adding a step is a file in this directory and a line in STEP_LIST: the planner
// (ops/plan.ts), the plan text (ops/plan-text.ts), the runner's callers and the event schema take every step
// name, title, order and rule from here.
import type { Plan } from '../plan.ts';
import { bootloaderLinuxStep } from './bootloader-linux.ts';
import { bootloaderWindowsStep } from './bootloader-windows.ts';
import { configDriveStep } from './config-drive.ts';
import { imageLinuxStep } from './image-linux.ts';
import { imageWindowsStep } from './image-windows.ts';
import { partitionStep } from './partition.ts';
import type { Step } from './step.ts';

/** Every step, in the order an install runs them; a plan runs those its recipe wants. */
export const STEP_LIST = [partitionStep, imageLinuxStep, configDriveStep, bootloaderLinuxStep, imageWindowsStep, bootloaderWindowsStep] as const;

export type StepName = (typeof STEP_LIST)[number]['name'];

export const ALL_STEPS: readonly StepName[] = STEP_LIST.map((s) => s.name);

/** The steps by name: what runPlan carries out. */
export const STEPS = Object.fromEntries(STEP_LIST.map((s) => [s.name, s])) as Record<StepName, Step>;

/**
 * Where a retry of a failed plan starts: at the failed step if it is resumable (the steps before it then
 * reattach), else from the beginning.
 */
export function resumePoint(plan: Plan, failed: StepName | undefined, steps: readonly Step[] = STEP_LIST): StepName | undefined {
  const step = steps.find((s) => s.name === failed);
  return step?.resumable && plan.steps.includes(step.name as StepName) ? (step.name as StepName) : undefined;
}
