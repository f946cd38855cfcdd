import type { Plan, PlannedPartition } from '../plan.ts';
import type { Recipe } from '../recipe.ts';
import type { StepImpl } from '../runner.ts';

/**
 * One Shoal step, whole: the planner, the plan text and the runner know a step only through this object and
 * the registry's list of them (ops/steps/index.ts).
 */
export interface Step<N extends string = string> extends StepImpl {
  /** Shoal's unit name: the controller knows it, and the webhook reports it as `failed_step`. */
  readonly name: N;
  /** Whether a plan for this recipe runs the step. */
  wanted(recipe: Recipe): boolean;
  /** What the step cannot work with in the planned layout: the plan is refused over each. */
  layoutProblems?(partitions: PlannedPartition[]): string[];
  /**
   * Whether a retry after this step failed may start at it, the steps before it reattached. False where the
   * step must start over on fresh filesystems (a streamed image keeps no copy, a half-unpacked tree is not
   * worth trusting).
   */
  readonly resumable: boolean;
  /** The plan's account of what this step will do, for `plan` and the review screen. */
  describe?(plan: Plan, device: string): string[];
}
