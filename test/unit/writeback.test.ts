// The flushes that run while the unpack does (ops/linux/writeback.ts), against a fake exec the test holds: which
// commands run, quietly, and when the step may go on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { ExecOptions } from '../../ops/exec.ts';
import { writeBackWhile } from '../../ops/linux/writeback.ts';
import type { StepContext } from '../../ops/runner.ts';

/** A step context whose exec records each command and runs `onExec` for it (the n-th call, from 1). */
function fakeContext(onExec: (n: number) => Promise<void>, signal = new AbortController().signal) {
  const commands: string[][] = [];
  const announced: string[] = [];
  const logged: string[] = [];
  const ctx = {
    signal,
    log: (m: string) => logged.push(m),
    exec: async (argv: string[], opts: ExecOptions = {}) => {
      commands.push(argv);
      // As the runner does: a command is announced (the log, the console's current command) unless told otherwise.
      (opts.onCommand ?? ((line: string) => announced.push(line)))(argv.join(' '));
      await onExec(commands.length);
      return { stdout: '', stderr: '' };
    },
  } as unknown as StepContext;
  return { ctx, commands, announced, logged };
}

/** A promise and the hands that settle it. */
function held<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('flushes one after another while the unpack runs, logged once, and the step waits for the flush under way', async () => {
  const thirdStarted = held();
  const thirdHeld = held();
  const { ctx, commands, announced, logged } = fakeContext(async (n) => {
    if (n === 3) {
      thirdStarted.resolve();
      await thirdHeld.promise;
    }
  });
  const unpack = held<string>();
  let settled = false;
  const done = writeBackWhile(ctx, '/run/target', unpack.promise).finally(() => (settled = true));
  await thirdStarted.promise;
  unpack.resolve('unpacked');
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(settled, false, 'a running sync holds the root open: the unmount must not come before it ends');
  thirdHeld.resolve();
  assert.equal(await done, 'unpacked');
  assert.deepEqual(commands, Array(3).fill(['sync', '--file-system', '/run/target']));
  assert.deepEqual(announced, [], 'thousands of flushes in a long pull are not thousands of command lines');
  assert.equal(logged.filter((l) => l.includes('sync --file-system /run/target')).length, 1, `one line, not one a flush: ${logged.join(' | ')}`);
});

test("a failed unpack is the step's failure, a failed flush is not; no flush starts after the unpack ends", async () => {
  const secondStarted = held();
  const { ctx, commands } = fakeContext(async (n) => {
    if (n === 1) throw new Error('sync: Input/output error');
    secondStarted.resolve();
  });
  const unpack = held<never>();
  const done = writeBackWhile(ctx, '/run/target', unpack.promise);
  await secondStarted.promise;
  unpack.reject(new Error('tar: disk full'));
  await assert.rejects(done, /tar: disk full/);
  const flushes = commands.length;
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(commands.length, flushes, 'the loop stopped with the unpack');
});

test('a cancelled install starts no more flushes', async () => {
  const cancel = new AbortController();
  const firstStarted = held();
  const { ctx, commands } = fakeContext(async () => firstStarted.resolve(), cancel.signal);
  const unpack = held<string>();
  const done = writeBackWhile(ctx, '/run/target', unpack.promise);
  await firstStarted.promise;
  cancel.abort();
  unpack.resolve('cut short');
  assert.equal(await done, 'cut short');
  assert.equal(commands.length, 1);
});
