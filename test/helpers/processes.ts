/**
 * A test's own child processes, from /proc: what an install it started has running (tar, the decompressor,
 * their shell), so that "nothing left running" is checked on those and never host-wide (pgrep).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** Every descendant of a process (the children of each of its threads, recursively). */
export function descendants(pid: number): number[] {
  const tasks = (() => {
    try {
      return readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  })();
  const kids = tasks.flatMap((t) => read(`/proc/${pid}/task/${t}/children`).split(/\s+/).filter(Boolean).map(Number));
  return kids.flatMap((k) => [k, ...descendants(k)]);
}

/** The descendants of `pid` once one of them runs `command` (e.g. tar: the unpack starts a moment after the pull). */
export async function whenRunning(pid: number, command: string, timeoutMs = 30_000): Promise<number[]> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(50)) {
    const kids = descendants(pid);
    if (kids.some((k) => read(`/proc/${k}/comm`).trim() === command)) return kids;
    if (Date.now() > deadline) assert.fail(`${command} never started under process ${pid}`);
  }
}

export const alive = (pids: number[]) => pids.filter((p) => existsSync(`/proc/${p}`));

/** Wait until these processes have all exited (after their parent was killed, they go when their pipes close). */
export async function waitGone(pids: number[], timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; alive(pids).length; await sleep(50)) {
    if (Date.now() > deadline) assert.fail(`still running: ${alive(pids).join(' ')}`);
  }
}
