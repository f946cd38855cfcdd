import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Is TOOL on PATH? The one tool check of the tests. */
export const hasTool = (tool: string) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0;

/**
 * Why this test cannot run here (not root, a tool missing), or undefined when it can. Tests skip with this
 * reason so a missing prerequisite is loud; CI is root with every tool, and its run fails on any skip.
 */
export function missingPrerequisite(tools: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (loop devices, mkfs, mount)';
  const missing = tools.filter((t) => !hasTool(t));
  return missing.length ? `needs ${missing.join(', ')} (see .ci/run for the Debian packages)` : undefined;
}

/** Skip loudly: the reason reaches the test report and stderr. */
export function skipUnless(t: TestContext, tools: string[] = []): boolean {
  const why = missingPrerequisite(tools);
  if (!why) return true;
  process.stderr.write(`SKIPPED ${t.name}: ${why}\n`);
  t.skip(why);
  return false;
}
