/**
 * Finding the task ISO: which drive, in what order, how long. This kernel has no iso9660, so `mount` is stood in
 * for by a copy of a directory; the VM test proves the real `mount -o ro -t iso9660`.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mountCommand, mountTaskIso, TASK_DEVICES, TASK_MOUNT } from '../../ops/auto.ts';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'task-iso-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Drives are files; each names a directory that plays the ISO's content, or is empty (no medium). */
async function drives(name: string, content: Record<string, Record<string, string> | 'no-medium'>) {
  const base = join(work, name);
  const at = join(base, 'mnt');
  await mkdir(at, { recursive: true });
  const calls: string[] = [];
  const paths: Record<string, string> = {};
  const media: Record<string, string | undefined> = {};
  // The medium is ready before the drive appears, so a poll never sees a half-inserted disc.
  const insert = async (drive: string, files: Record<string, string> | 'no-medium') => {
    const path = join(base, drive);
    if (files !== 'no-medium') {
      const dir = join(base, `${drive}.content`);
      await mkdir(dir, { recursive: true });
      for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
      media[path] = dir;
    }
    await writeFile(path, '');
    paths[drive] = path;
  };
  for (const [drive, files] of Object.entries(content)) await insert(drive, files);
  const mount = async (device: string, where: string) => {
    calls.push(`mount ${device.slice(base.length + 1)}`);
    const dir = media[device];
    if (!dir) throw new Error(`mount: ${device}: no medium found`);
    await cp(dir, where, { recursive: true });
    return async () => {
      calls.push(`umount ${device.slice(base.length + 1)}`);
      await rm(where, { recursive: true, force: true });
      await mkdir(where);
    };
  };
  return { base, at, calls, paths, mount, insert };
}

const dev = (d: { base: string }, ...names: string[]) => names.map((n) => join(d.base, n));

test('defaults: /dev/sr1 then /dev/sr0, mounted read-only as iso9660 at /run/shoal/task', () => {
  assert.deepEqual(TASK_DEVICES, ['/dev/sr1', '/dev/sr0']);
  assert.equal(TASK_MOUNT, '/run/shoal/task');
  assert.deepEqual(mountCommand('/dev/sr1', TASK_MOUNT), ['mount', '-o', 'ro', '-t', 'iso9660', '/dev/sr1', '/run/shoal/task']);
});

test('the task ISO on sr1 wins; its recipe and directory are returned; release unmounts', async () => {
  const d = await drives('both', { sr1: { 'recipe.json': '{"task":1}', webhook_secret: 's' }, sr0: { 'EFI': 'maintenance' } });
  const task = await mountTaskIso(dev(d, 'sr1', 'sr0'), d.at, 5, { mount: d.mount, pollMs: 10 }, () => undefined);
  assert.equal(task.recipeText, '{"task":1}');
  assert.equal(task.dir, d.at);
  assert.match(task.from, /the task ISO on .*sr1 \(mounted at .*mnt\)/);
  await task.release();
  assert.deepEqual(d.calls, ['mount sr1', 'umount sr1']);
});

test('only sr0 (the maintenance ISO is not there): sr0 is used', async () => {
  const d = await drives('only-sr0', { sr0: { 'recipe.json': '{"task":0}' } });
  const task = await mountTaskIso(dev(d, 'sr1', 'sr0'), d.at, 5, { mount: d.mount, pollMs: 10 }, () => undefined);
  assert.equal(task.recipeText, '{"task":0}');
  assert.deepEqual(d.calls, ['mount sr0']);
});

test('sr0 holds an ISO without recipe.json (skipped, not retried); sr1 shows up later and is used', async () => {
  const d = await drives('late', { sr0: { 'EFI': 'maintenance' } });
  const said: string[] = [];
  setTimeout(() => void d.insert('sr1', { 'recipe.json': '{"late":true}' }), 150);
  const t0 = Date.now();
  const task = await mountTaskIso(dev(d, 'sr1', 'sr0'), d.at, 5, { mount: d.mount, pollMs: 20 }, (m) => said.push(m));
  assert.equal(task.recipeText, '{"late":true}');
  assert.ok(Date.now() - t0 >= 100);
  assert.deepEqual(d.calls, ['mount sr0', 'umount sr0', 'mount sr1']);
  assert.equal(said.length, 1);
  assert.match(said[0]!, /^waiting up to 5 s for the task ISO on .*sr1 or .*sr0$/);
});

test('a drive without a medium is retried until one is inserted', async () => {
  const d = await drives('no-medium', { sr1: 'no-medium' });
  setTimeout(() => void d.insert('sr1', { 'recipe.json': '{"inserted":true}' }), 100);
  const task = await mountTaskIso(dev(d, 'sr1'), d.at, 5, { mount: d.mount, pollMs: 20 }, () => undefined);
  assert.equal(task.recipeText, '{"inserted":true}');
  assert.ok(d.calls.filter((c) => c === 'mount sr1').length >= 2);
});

test('nothing usable within the wait: a failure that says what each drive held, after about the wait', async () => {
  const d = await drives('none', { sr0: { 'EFI': 'maintenance' }, sr2: 'no-medium' });
  const t0 = Date.now();
  await assert.rejects(
    mountTaskIso(dev(d, 'sr1', 'sr0', 'sr2'), d.at, 1, { mount: d.mount, pollMs: 50 }, () => undefined),
    (e: Error & { hint?: string }) => {
      assert.match(e.message, /^no task ISO with recipe\.json found within 1 s \(/);
      assert.match(e.message, /sr1: not present/);
      assert.match(e.message, /sr0: an ISO without recipe\.json at its root \(the maintenance ISO\?\)/);
      assert.match(e.message, /sr2: mount: .*no medium found/);
      assert.match(e.hint!, /attach the job's task ISO/);
      return true;
    },
  );
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 3000, `${took} ms`);
});

test('the wait stops at once when the run is aborted', async () => {
  const d = await drives('abort', {});
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 100);
  const t0 = Date.now();
  await assert.rejects(mountTaskIso(dev(d, 'sr1'), d.at, 60, { mount: d.mount, pollMs: 1000, signal: ctl.signal }, () => undefined));
  assert.ok(Date.now() - t0 < 1000);
});
