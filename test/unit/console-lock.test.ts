/**
 * The console takes the disk lock when it checks the disk the last time before writing (recheck), keeps it for
 * the run, and gives it back when the session closes. The holder here is a util-linux flock of the test's own.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleSession, type Review } from '../../ops/console-session.ts';
import type { DiskFacts } from '../../ops/disks.ts';
import { makeDiskImage } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';

const lockedElsewhere = (file: string) => spawnSync('flock', ['--exclusive', '--nonblock', file, 'true']).status !== 0;

test('console: recheck is refused while another process holds the disk, naming it; once free the session holds it until closed', async (t) => {
  if (!skipUnless(t, ['flock'])) return;
  const dir = await mkdtemp(join(tmpdir(), 'shoal-console-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const disk = makeDiskImage(join(dir, 'disk.img'), '16M');
  const session = new ConsoleSession({ logDir: false }, { inspectDisk: async () => ({ inUse: [], readOnly: false }) as unknown as DiskFacts });
  const review = { prepared: { plan: { disk: { path: disk } } } } as unknown as Review;

  // Its own process group, so that the sleep under it goes too.
  const holder = spawn('flock', ['--exclusive', '--close', disk, 'sleep', '60'], { stdio: 'ignore', detached: true });
  const stop = () => {
    if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL');
  };
  t.after(stop);
  for (const deadline = Date.now() + 10_000; !lockedElsewhere(disk); await sleep(20)) {
    if (Date.now() > deadline) assert.fail('the test could not lock the disk itself');
  }
  const refused = await session.recheck(review);
  assert.equal(refused?.length, 1);
  assert.match(refused[0]!, new RegExp(`another install holds ${disk}: process ${holder.pid} \\(flock --exclusive --close ${disk} sleep 60\\)`));

  const exited = new Promise((resolve) => holder.once('exit', resolve));
  stop();
  await exited;
  assert.equal(await session.recheck(review), undefined);
  assert.ok(lockedElsewhere(disk), 'the session holds the disk after recheck');
  await session.close();
  assert.ok(!lockedElsewhere(disk), 'closing the session released it');
});
