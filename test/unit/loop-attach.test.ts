/**
 * The loop device's detach must be registered before losetup can attach the image: a SIGTERM that lands while
 * losetup runs (attached, output not yet read) otherwise leaves the image attached with nobody to detach it.
 * A recording step context stands in for the runner; the loop device picked and locked is a real free one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../ops/exec.ts';
import { partitionStep } from '../../ops/steps/partition.ts';
import type { StepContext } from '../../ops/runner.ts';
import { makeDiskImage } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';

test("partition.service registers the loop device's detach before losetup attaches the image", async (t) => {
  if (!skipUnless(t, ['losetup', 'flock'])) return;
  const dir = await mkdtemp(join(tmpdir(), 'shoal-loop-attach-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const image = makeDiskImage(join(dir, 'disk.img'), '64M');
  const ctl = new AbortController();
  const seen: string[] = [];
  const undo: (() => Promise<unknown>)[] = [];
  const ctx = {
    plan: { disk: { kind: 'image', path: image }, partitions: [] },
    state: { partitionDevices: {}, fsUuids: {} },
    signal: ctl.signal,
    async exec(argv: string[]) {
      seen.push(`exec ${argv.join(' ')}`);
      if (argv.includes(image)) {
        // systemd stopping the unit just as losetup attaches.
        ctl.abort(new Error('SIGTERM'));
        throw new Error(`${argv.join(' ')} was cancelled`);
      }
      if (argv[0] === 'losetup' && argv[1] === '--find') return run(argv);
      return { stdout: '', stderr: '' };
    },
    defer(label: string, fn: () => Promise<unknown>) {
      seen.push(`defer ${label}`);
      undo.push(fn);
    },
    log: () => undefined,
  } as unknown as StepContext;

  await assert.rejects(partitionStep.run(ctx), /cancelled/);
  for (const fn of undo.reverse()) await fn();
  const attach = seen.findIndex((s) => s.startsWith('exec') && s.includes(image));
  const detach = seen.findIndex((s) => s.startsWith('defer detach'));
  assert.ok(detach >= 0 && detach < attach, `the detach is registered before the attach:\n${seen.join('\n')}`);
});
