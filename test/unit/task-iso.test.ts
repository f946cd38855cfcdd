/**
 * Finding the task ISO: which drives, in what order, how long, and never the boot medium. This kernel has no
 * iso9660, so sysfs is a tree the test lays out and `mount` is a copy of a directory (test/helpers/fake-drives.ts);
 * the VM test proves the real `mount -o ro -t iso9660`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findTaskIso, mountCommand, namedDrives, removableDrives, TASK_MOUNT } from '../../ops/task-iso.ts';
import { fakeMachine, type FakeDisk } from '../helpers/fake-drives.ts';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'task-iso-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

let seq = 0;
const machine = (disks: Record<string, FakeDisk>, bootMounts?: Record<string, string>) => fakeMachine(join(work, `m${++seq}`), disks, bootMounts);
const RECIPE = { 'recipe.json': '{"task":1}' };
const MAINT = { EFI: 'the maintenance ISO' };

test('defaults: mounted read-only as iso9660 at /run/shoal/task', () => {
  assert.equal(TASK_MOUNT, '/run/shoal/task');
  assert.deepEqual(mountCommand('/dev/sr1', TASK_MOUNT), ['mount', '-o', 'ro', '-t', 'iso9660', '/dev/sr1', '/run/shoal/task']);
});

test('drives: optical (highest number first), then USB and removable disks; fixed disks never; the boot medium marked, also by a partition', async () => {
  const m = await machine(
    {
      sda: { kind: 'fixed', devno: '8:0', partitions: { sda1: '8:1' } },
      sr0: { kind: 'sr', devno: '11:0', medium: MAINT },
      sr1: { kind: 'sr', devno: '11:1', medium: 'none' },
      sr10: { kind: 'sr', devno: '11:10', medium: RECIPE },
      sdb: { kind: 'usb', devno: '8:16', partitions: { sdb1: '8:17' } },
      sdc: { kind: 'removable', devno: '8:32' },
    },
    { '/': '8:1', '/run/live/medium': '8:17' },
  );
  const drives = await removableDrives(m.view);
  const d = (name: string) => join(m.view.devDir, name);
  assert.deepEqual(drives, [
    { device: d('sr10'), kind: 'optical' },
    { device: d('sr1'), kind: 'optical', empty: true },
    { device: d('sr0'), kind: 'optical' },
    { device: d('sdb'), kind: 'USB', bootMedium: 'the boot medium (mounted at /run/live/medium)' },
    { device: d('sdc'), kind: 'removable' },
  ]);
});

test('no drives at all (and no /sys/block): an empty list, not an error', async () => {
  assert.deepEqual(await removableDrives({ sysRoot: join(work, 'nothing'), mountinfo: join(work, 'nothing/mountinfo') }), []);
});

test('the task ISO on sr1 wins over the maintenance ISO on sr0; its recipe and directory are returned; release unmounts', async () => {
  const m = await machine({ sr0: { kind: 'sr', devno: '11:0', medium: MAINT }, sr1: { kind: 'sr', devno: '11:1', medium: { ...RECIPE, webhook_secret: 's' } } });
  const task = await findTaskIso({ at: m.at, waitSeconds: 5, mount: m.mount, pollMs: 10, drives: () => removableDrives(m.view) }, () => undefined);
  assert.equal(task.recipeText, '{"task":1}');
  assert.equal(task.dir, m.at);
  assert.match(task.from, /the task ISO on .*sr1 \(mounted at .*mnt\)/);
  await task.release();
  assert.deepEqual(m.calls, ['mount sr1', 'umount sr1']);
});

test('the task ISO on sr0 with the maintenance ISO on sr1 (the boot medium): the boot medium is never mounted', async () => {
  const m = await machine({ sr0: { kind: 'sr', devno: '11:0', medium: RECIPE }, sr1: { kind: 'sr', devno: '11:1', medium: RECIPE } }, { '/run/live/medium': '11:1' });
  const task = await findTaskIso({ at: m.at, waitSeconds: 5, mount: m.mount, pollMs: 10, drives: () => removableDrives(m.view) }, () => undefined);
  assert.match(task.from, /on .*sr0 /);
  assert.deepEqual(m.calls, ['mount sr0'], 'sr1 holds recipe.json too, but it is what the system booted from');
});

test('the task ISO on a USB disk, the maintenance ISO on a USB CD-ROM', async () => {
  const m = await machine({ sr0: { kind: 'sr', devno: '11:0', medium: MAINT }, sdb: { kind: 'usb', devno: '8:16', medium: RECIPE } }, { '/run/live/medium': '11:0' });
  const task = await findTaskIso({ at: m.at, waitSeconds: 5, mount: m.mount, pollMs: 10, drives: () => removableDrives(m.view) }, () => undefined);
  assert.match(task.from, /on .*sdb /);
  assert.deepEqual(m.calls, ['mount sdb']);
});

test('sr0 holds an ISO without recipe.json (not tried again); sr1 shows up later and is used, without waiting out the bound', async () => {
  const m = await machine({ sr0: { kind: 'sr', devno: '11:0', medium: MAINT } });
  const said: string[] = [];
  let rounds = 0;
  const drives = async () => {
    // Virtual media attached late: the drive appears on the third look.
    if (++rounds === 3) await m.insert('sr1', { kind: 'sr', devno: '11:1', medium: { 'recipe.json': '{"late":true}' } });
    return removableDrives(m.view);
  };
  const t0 = Date.now();
  const task = await findTaskIso({ at: m.at, waitSeconds: 30, graceSeconds: 10, mount: m.mount, pollMs: 20, drives }, (s) => said.push(s));
  assert.equal(task.recipeText, '{"late":true}');
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(m.calls, ['mount sr0', 'umount sr0', 'mount sr1']);
  assert.equal(said.length, 1);
  assert.match(said[0]!, /^looking for the task ISO \(recipe\.json at its root\) on any optical, removable or USB drive, up to 30 s$/);
});

test('a drive whose mount fails (no medium yet) is tried again past the grace, until it mounts', async () => {
  const m = await machine({ sr1: { kind: 'sr', devno: '11:1', medium: { 'recipe.json': '{"inserted":true}' } } });
  let tries = 0;
  const mount = async (device: string, at: string) => {
    if (++tries < 4) throw new Error(`mount: ${device}: no medium found`);
    return m.mount(device, at);
  };
  const task = await findTaskIso({ at: m.at, waitSeconds: 10, graceSeconds: 0, mount, pollMs: 20, drives: () => removableDrives(m.view) }, () => undefined);
  assert.equal(task.recipeText, '{"inserted":true}');
  assert.equal(tries, 4);
});

test('an empty drive is not mounted, and keeps the search going until the bound', async () => {
  const m = await machine({ sr0: { kind: 'sr', devno: '11:0', medium: 'none' } });
  const t0 = Date.now();
  await assert.rejects(
    findTaskIso({ at: m.at, waitSeconds: 1, graceSeconds: 0, mount: m.mount, pollMs: 50, drives: () => removableDrives(m.view) }, () => undefined),
    /no task ISO with recipe\.json found within 1 s \(.*sr0: optical drive, no medium\)/,
  );
  assert.ok(Date.now() - t0 >= 900);
  assert.deepEqual(m.calls, []);
});

test('no drive at all: gives up after the grace, not the whole bound', async () => {
  const m = await machine({ sda: { kind: 'fixed', devno: '8:0' } });
  const t0 = Date.now();
  await assert.rejects(
    findTaskIso({ at: m.at, waitSeconds: 60, graceSeconds: 0.3, mount: m.mount, pollMs: 50, drives: () => removableDrives(m.view) }, () => undefined),
    /no task ISO with recipe\.json found within 0 s \(nothing on any optical, removable or USB drive\)/,
  );
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 3000, `${took} ms`);
  assert.deepEqual(m.calls, []);
});

test('every drive checked, none with recipe.json, only the boot medium besides: gives up after the grace', async () => {
  const m = await machine({ sr0: { kind: 'sr', devno: '11:0', medium: RECIPE }, sr1: { kind: 'sr', devno: '11:1', medium: MAINT } }, { '/run/live/medium': '11:0' });
  const t0 = Date.now();
  await assert.rejects(
    findTaskIso({ at: m.at, waitSeconds: 60, graceSeconds: 0.3, mount: m.mount, pollMs: 50, drives: () => removableDrives(m.view) }, () => undefined),
    (e: Error) => {
      assert.match(e.message, /sr1: an ISO without recipe\.json at its root \(the maintenance ISO\?\)/);
      assert.match(e.message, /sr0: the boot medium \(mounted at \/run\/live\/medium\), skipped/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 3000);
  assert.deepEqual(m.calls, ['mount sr1', 'umount sr1']);
});

test('a named device (shoal.recipe=/dev/srN) that is missing is waited for the whole bound, then named', async () => {
  const t0 = Date.now();
  await assert.rejects(
    findTaskIso(
      { at: join(work, 'unused'), waitSeconds: 1, pollMs: 50, drives: namedDrives(['/dev/shoal-test-no-such-drive']), what: '/dev/shoal-test-no-such-drive' },
      () => undefined,
    ),
    /no task ISO with recipe\.json found within 1 s \(nothing on \/dev\/shoal-test-no-such-drive\)/,
  );
  assert.ok(Date.now() - t0 >= 900);
});

test('the wait stops at once when the run is aborted', async () => {
  const m = await machine({ sr1: { kind: 'sr', devno: '11:1', medium: 'none' } });
  const ctl = new AbortController();
  const t0 = Date.now();
  const said = (s: string) => {
    // The search is waiting now (it said so): abort it there.
    if (s.startsWith('looking for')) ctl.abort();
  };
  await assert.rejects(findTaskIso({ at: m.at, waitSeconds: 60, mount: m.mount, pollMs: 1000, signal: ctl.signal, drives: () => removableDrives(m.view) }, said));
  assert.ok(Date.now() - t0 < 1000);
});
