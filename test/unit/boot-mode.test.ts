/**
 * The boot's decision, with the machine's facts stood in for (test/helpers/fake-drives.ts): a task ISO with
 * recipe.json on any drive but the boot medium starts auto mode, nothing starts the console installer, and the
 * settings force either way. The VM test boots the real ISO with a real task ISO.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decideBootMode, MODE_UNITS, runBoot, type BootOptions } from '../../ops/boot-mode.ts';
import { removableDrives } from '../../ops/task-iso.ts';
import { fakeMachine, type FakeDisk, type FakeMachine } from '../helpers/fake-drives.ts';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'boot-mode-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const LIVE = 'BOOT_IMAGE=/live/vmlinuz boot=live components quiet';
const RECIPE = { 'recipe.json': '{}' };
const MAINT = { EFI: 'the maintenance ISO' };

let seq = 0;
/** A machine, its kernel command line and (optionally) the image's shoal.conf, as decideBootMode's options. */
async function boot(
  disks: Record<string, FakeDisk>,
  opts: { bootMounts?: Record<string, string>; cmdline?: string; defaults?: string } = {},
): Promise<{ m: FakeMachine; options: BootOptions; said: string[] }> {
  const base = join(work, `b${++seq}`);
  await mkdir(base);
  const m = await fakeMachine(base, disks, opts.bootMounts);
  await writeFile(join(base, 'cmdline'), `${LIVE} ${opts.cmdline ?? ''}\n`);
  if (opts.defaults !== undefined) await writeFile(join(base, 'defaults'), opts.defaults);
  const said: string[] = [];
  return {
    m,
    said,
    options: {
      cmdlineFile: join(base, 'cmdline'),
      defaultsFile: join(base, 'defaults'),
      find: { at: m.at, mount: m.mount, pollMs: 20, drives: () => removableDrives(m.view), graceSeconds: 0.2 },
      say: (s) => said.push(s),
    },
  };
}

test('task ISO on sr1, maintenance ISO on sr0 (booted from it): auto mode', async () => {
  const { options, m } = await boot(
    { sr0: { kind: 'sr', devno: '11:0', medium: MAINT }, sr1: { kind: 'sr', devno: '11:1', medium: RECIPE } },
    { bootMounts: { '/run/live/medium': '11:0' } },
  );
  const d = await decideBootMode(options);
  assert.equal(d.mode, 'auto');
  assert.match(d.reason, /^recipe\.json on the task ISO on .*\/sr1 /);
  assert.deepEqual(m.calls, ['mount sr1', 'umount sr1'], 'the boot medium is not touched; the task ISO is left unmounted for auto mode');
});

test('task ISO on sr0, maintenance ISO on sr1: auto mode', async () => {
  const { options, m } = await boot(
    { sr0: { kind: 'sr', devno: '11:0', medium: RECIPE }, sr1: { kind: 'sr', devno: '11:1', medium: MAINT } },
    { bootMounts: { '/run/live/medium': '11:1' } },
  );
  assert.equal((await decideBootMode(options)).mode, 'auto');
  assert.deepEqual(m.calls, ['mount sr0', 'umount sr0']);
});

test('task ISO on a USB removable disk: auto mode', async () => {
  const { options } = await boot(
    { sr0: { kind: 'sr', devno: '11:0', medium: MAINT }, sdb: { kind: 'removable', devno: '8:16', medium: RECIPE } },
    { bootMounts: { '/run/live/medium': '11:0' } },
  );
  const d = await decideBootMode(options);
  assert.equal(d.mode, 'auto');
  assert.match(d.reason, /\/sdb /);
});

test('the boot medium holds recipe.json and nothing else does: the console installer, and the boot medium was never mounted', async () => {
  const { options, m } = await boot({ sdb: { kind: 'usb', devno: '8:16', medium: RECIPE, partitions: { sdb1: '8:17' } } }, { bootMounts: { '/run/live/medium': '8:17' } });
  const t0 = Date.now();
  const d = await decideBootMode(options);
  assert.equal(d.mode, 'console');
  assert.match(d.reason, /sdb: the boot medium \(mounted at \/run\/live\/medium\), skipped/);
  assert.deepEqual(m.calls, []);
  assert.ok(Date.now() - t0 < 3000, 'nothing to wait for: the grace, not the whole shoal.detect_wait');
});

test('no task ISO at all: the console installer, quickly', async () => {
  const { options } = await boot({ sda: { kind: 'fixed', devno: '8:0' } });
  const t0 = Date.now();
  const d = await decideBootMode(options);
  assert.equal(d.mode, 'console');
  assert.match(d.reason, /^no task ISO with recipe\.json found/);
  assert.ok(Date.now() - t0 < 3000);
});

test('an empty CD drive is waited for up to shoal.detect_wait, then the console installer', async () => {
  const { options } = await boot({ sr0: { kind: 'sr', devno: '11:0', medium: 'none' } }, { cmdline: 'shoal.detect_wait=1' });
  const t0 = Date.now();
  const d = await decideBootMode(options);
  assert.equal(d.mode, 'console');
  assert.match(d.reason, /sr0: optical drive, no medium/);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 4000, `${took} ms`);
});

test('shoal.auto / shoal.auto=0 force either way, from the kernel command line or the image; the kernel wins', async () => {
  const withTask = { sr1: { kind: 'sr', devno: '11:1', medium: RECIPE } } as const;
  const cases: [Record<string, FakeDisk>, { cmdline?: string; defaults?: string }, string, RegExp][] = [
    [withTask, { cmdline: 'shoal.auto=0' }, 'console', /^shoal\.auto=0 from the kernel command line$/],
    [{}, { cmdline: 'shoal.auto' }, 'auto', /^shoal\.auto from the kernel command line$/],
    [withTask, { defaults: 'shoal.auto=0\n' }, 'console', /^shoal\.auto=0 from the image's defaults/],
    [withTask, { cmdline: 'shoal.auto', defaults: 'shoal.auto=0\n' }, 'auto', /kernel command line/],
    [{}, { defaults: 'shoal.recipe=http://controller:8080/job/recipe.json\n' }, 'auto', /^shoal\.recipe from the image's defaults .* names the job's recipe$/],
  ];
  for (const [disks, opts, mode, reason] of cases) {
    const { options, m } = await boot(disks, opts);
    const d = await decideBootMode(options);
    assert.equal(d.mode, mode, JSON.stringify(opts));
    assert.match(d.reason, reason);
    assert.deepEqual(m.calls, [], 'forced: no drive is looked at');
  }
});

test("the task ISO's shoal.conf may say shoal.auto=0; the serial menu entry's systemd.wants= means a technician is there", async () => {
  const quiet = await boot({ sr1: { kind: 'sr', devno: '11:1', medium: { ...RECIPE, 'shoal.conf': 'shoal.auto=0 # hands off\n' } } });
  const d = await decideBootMode(quiet.options);
  assert.equal(d.mode, 'console');
  assert.match(d.reason, /its shoal\.conf says shoal\.auto=0/);
  // A bad setting does not stop the choice (auto mode reports it); it is said.
  const bad = await boot({}, { cmdline: 'shoal.auto=maybe shoal.detect_wait=0' });
  assert.equal((await decideBootMode(bad.options)).mode, 'console');
  assert.match(bad.said.join('\n'), /not valid, left out of this choice: shoal\.auto \("maybe"\): a switch/);
  const serial = await boot({ sr1: { kind: 'sr', devno: '11:1', medium: RECIPE } }, { cmdline: 'systemd.wants=shoal-install-serial@ttyS0.service' });
  assert.equal((await decideBootMode(serial.options)).mode, 'console');
  assert.deepEqual(serial.m.calls, []);
});

test('runBoot starts the units of the mode; a failure to decide still starts the console installer', async () => {
  const { options } = await boot({ sr1: { kind: 'sr', devno: '11:1', medium: RECIPE } });
  const started: (readonly string[])[] = [];
  const lines: string[] = [];
  const out = await runBoot({ ...options, start: async (u) => void started.push(u), write: (l) => lines.push(l) });
  assert.equal(out.exitCode, 0);
  assert.deepEqual(started, [MODE_UNITS.auto as readonly string[]]);
  assert.deepEqual(MODE_UNITS.auto, ['shoal-install-auto.service', 'shoal-install-watch.service']);
  assert.match(lines.at(-1)!, /^shoal-install boot: auto mode: recipe\.json on .*; starting shoal-install-auto\.service shoal-install-watch\.service$/);

  const broken = await runBoot({
    ...options,
    find: { ...options.find, drives: async () => Promise.reject(new Error('sysfs exploded')) },
    start: async (u) => void started.push(u),
    write: (l) => lines.push(l),
  });
  assert.equal(broken.exitCode, 0);
  assert.deepEqual(started.at(-1), ['shoal-install-console.service']);
  assert.match(lines.at(-1)!, /the console installer: could not look for a task ISO \(sysfs exploded\)/);

  const cannotStart = await runBoot({ ...options, start: async () => Promise.reject(new Error('systemctl: no bus')), write: (l) => lines.push(l) });
  assert.equal(cannotStart.exitCode, 1, 'the unit fails, and its OnFailure= starts the console installer');
});
