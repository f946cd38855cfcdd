import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/**
 * Why this test cannot run here (not root, a tool missing), or undefined when it can. Tests skip with this
 * reason so a missing prerequisite is loud; CI is root with every tool, and its run fails on any skip.
 */
export function missingPrerequisite(tools: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (loop devices, mkfs, mount)';
  const missing = tools.filter((t) => !has(t));
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
