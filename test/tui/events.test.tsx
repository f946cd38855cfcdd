/**
 * The Install screen fed by the engine's own events: the real runner (runPlan) over a plan the real planner
 * made, a JSON-lines log captured from a real `shoal-install install --json` onto a loop disk (as root), and a
 * burst of progress events to check the frame budget.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { render, cleanup } from 'ink-testing-library';
import { followLatestLog, followLog } from '../../ops/outputs/log-follower.ts';
import { streamLine, type InstallEvent } from '../../ops/events.ts';
import { makePlan } from '../../ops/plan.ts';
import { parseRecipe } from '../../ops/recipe.ts';
import { runPlan } from '../../ops/runner.ts';
import { applyEvent, initialInstall } from '../../tui/model/install.ts';
import { consoleKind } from '../../tui/theme.ts';
import { WatchApp } from '../../tui/watch.tsx';
import { resultOf, runCli } from '../helpers/cli.ts';
import { makeDiskImage } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';
import { assertFrames, fixtureDisks, MACHINE, scriptedSteps } from './helpers.tsx';

process.env.TERM = 'linux';
afterEach(() => cleanup());

function watch(events: (push: (e: InstallEvent) => void) => void | Promise<void>) {
  const exits: number[] = [];
  const ui = render(
    <WatchApp
      subscribe={(push) => {
        void events(push);
        return () => undefined;
      }}
      kind={consoleKind()}
      size={{ columns: 80, rows: 24 }}
      source="test"
      onExit={(c) => exits.push(c)}
    />,
  );
  const waitFor = async (s: string | RegExp, ms = 5000) => {
    const deadline = Date.now() + ms;
    const ok = () => (typeof s === 'string' ? (ui.lastFrame() ?? '').includes(s) : s.test(ui.lastFrame() ?? ''));
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${String(s)}:\n${ui.lastFrame()}`);
      await sleep(10);
    }
  };
  return { ...ui, waitFor, exits };
}

test('the real runner over a real plan: every event reaches the screen, done with durations and UUIDs', async () => {
  const disk = fixtureDisks()[0]!;
  const recipe = parseRecipe({
    task_target: 'install-linux.target',
    target_disk: disk.path,
    oci_url: 'registry.test:5000/os-images/debian:12',
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
      { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
  });
  const plan = makePlan(recipe, disk, MACHINE, { stopBefore: 'bootloader-linux.service' });
  const seen: InstallEvent[] = [];
  const ui = watch(async (push) => {
    await runPlan(plan, { steps: scriptedSteps({}), onEvent: (e) => (seen.push(e), push(e)) });
  });
  await ui.waitFor('The automatic install finished.');
  const f = ui.lastFrame()!;
  assert.match(f, /√ partition\.service\s+\d/);
  assert.match(f, /√ image-linux\.service\s+\d/);
  assert.match(f, /- bootloader-linux\.service\s+skipped: left out by --stop-before/);
  const result = seen.find((e) => e.type === 'result')!;
  assert.ok(result.type === 'result');
  for (const p of result.result.partitions) assert.ok(f.includes(p.partGuid), `PARTUUID ${p.partGuid} shown`);
  assert.ok(seen.some((e) => e.type === 'progress'));
  assert.ok(seen.some((e) => e.type === 'command'));
  assertFrames(ui.frames, 'linux');
});

test('a burst of progress events costs a handful of frames, and the last state is shown', async () => {
  const ui = watch(async (push) => {
    const at = new Date().toISOString();
    push({ type: 'step-start', at, step: 'image-linux.service', title: 'Pull the image and unpack it onto the disk' });
    for (let i = 1; i <= 5000; i++)
      push({ type: 'progress', at, step: 'image-linux.service', bytes: i * 65536, total: 5000 * 65536, rate: 100 * 1024 * 1024, etaSeconds: (5000 - i) / 1600 });
  });
  await ui.waitFor(/313 MiB of 313 MiB/);
  await sleep(300);
  const frames = ui.frames.length;
  assert.ok(frames <= 8, `5000 progress events drew ${frames} frames`);
  assert.match(ui.lastFrame()!, /100%/);
  assert.match(ui.lastFrame()!, /100 MiB\/s\s+ETA 00:00/);
});

test('the model folds events: steps, current command, progress, failure, result', () => {
  const m = initialInstall([
    { step: 'partition.service', title: 'Partition' },
    { step: 'image-linux.service', title: 'Image' },
  ]);
  const at = '2025-01-01T00:00:00.000Z';
  applyEvent(m, { type: 'step-start', at, step: 'partition.service', title: 'Partition and format the disk' });
  applyEvent(m, { type: 'command', at, step: 'partition.service', command: 'sgdisk --zap-all /dev/sda' });
  assert.equal(m.current, 'partition.service');
  assert.equal(m.command, 'sgdisk --zap-all /dev/sda');
  applyEvent(m, { type: 'step-end', at, step: 'partition.service', durationMs: 1200 });
  assert.equal(m.steps[0]!.state, 'done');
  assert.equal(m.command, undefined);
  applyEvent(m, { type: 'step-start', at, step: 'image-linux.service', title: 'Pull' });
  applyEvent(m, { type: 'progress', at, step: 'image-linux.service', bytes: 5, total: 10, rate: 1 });
  assert.equal(m.progress?.bytes, 5);
  applyEvent(m, { type: 'step-fail', at, step: 'image-linux.service', message: 'boom', hint: 'fix it' });
  assert.deepEqual(m.failure, { step: 'image-linux.service', message: 'boom', hint: 'fix it' });
  assert.equal(m.lines.filter((l) => l.includes('progress')).length, 0, 'progress is not logged line by line');
  assert.ok(m.lines.some((l) => l.includes('FAILED image-linux.service: boom')));
});

// --- a log from a real install onto a loop disk ------------------------------------------------------------

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'mkfs.ext4', 'pigz', 'setfacl', 'losetup'];
let work: string | undefined;
let registry: TestRegistry | undefined;
let captured: { events: InstallEvent[]; logPath: string } | undefined;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-tui-replay-'));
  registry = await startRegistry();
  const tree = join(work, 'tree');
  await makeRootfsTree(tree, 8 * 1024 * 1024);
  packRootfs(tree, join(work, 'rootfs.tar.gz'), 'gzip');
  await pushArtifact(registry, 'os-images/tui-replay:1', join(work, 'rootfs.tar.gz'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    artifactType: 'application/vnd.shoal.rootfs.tar.gz',
    title: 'rootfs.tar.gz',
  });
  const disk = makeDiskImage(join(work, 'disk.img'), '1G');
  const recipePath = join(work, 'recipe.json');
  await writeFile(
    recipePath,
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: disk,
      oci_url: `${registry.host}/os-images/tui-replay:1`,
      partition_layout: [
        { size: '64M', type_guid: 'ef00', format: 'vfat', label: 'EFI' },
        { size: '16M', format: 'vfat', label: 'cidata' },
        { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
      ],
      user_data: '#cloud-config\npassword: replay-secret-value\n',
    }),
  );
  const logPath = join(work, 'install.jsonl');
  const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json', '--stop-before', 'bootloader-linux.service', '--log', logPath]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(resultOf(run)?.ok, true);
  captured = { events: run.events, logPath };
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('replaying a real install log (shoal-install install --json on a loop disk) at full speed', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const { events } = captured!;
  const ui = watch((push) => events.forEach(push));
  await ui.waitFor('The automatic install finished.');
  const f = ui.lastFrame()!;
  assert.match(f, /√ partition\.service/);
  assert.match(f, /√ image-linux\.service/);
  assert.match(f, /√ config-drive\.service/);
  assert.match(f, /- bootloader-linux\.service\s+skipped/);
  const result = resultOf({ events } as never)!;
  assert.ok(f.includes(result.imageDigest!), 'the image digest');
  assert.ok(!ui.frames.some((x) => x.includes('replay-secret-value')), 'user-data never shown');
  assertFrames(ui.frames, 'linux');
});

test('watch mode follows the JSON-lines log file as auto mode writes it', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const { logPath } = captured!;
  const ctl = new AbortController();
  const ui = watch((push) => followLog(logPath, push, ctl.signal, 20));
  await ui.waitFor('The automatic install finished.');
  ctl.abort();
  assert.match(ui.lastFrame()!, /Watching the automatic install \(read-only\)/);
  ui.stdin.write('l');
  await ui.waitFor('Full log');
  assert.match(ui.lastFrame()!, /Install finished\./);
  ui.stdin.write('\u001B');
  await ui.waitFor('The automatic install finished.');
  ui.stdin.write('q');
  await sleep(50);
  assert.deepEqual(ui.exits, [0]);
});

test('watch mode on tty1 starts before auto mode has a log: it waits, then follows the newest one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-watch-'));
  try {
    const ctl = new AbortController();
    const ui = watch((push) => followLatestLog(push, ctl.signal, dir, 20));
    await ui.waitFor('waiting for the install to start');
    await sleep(100);
    const at = new Date().toISOString();
    const events: InstallEvent[] = [
      { type: 'step-start', at, step: 'partition.service', title: 'Partition and format the disk' },
      { type: 'step-fail', at, step: 'partition.service', message: 'sgdisk: the disk went away', hint: 'check the cabling' },
      {
        type: 'result',
        at,
        result: { ok: false, failedStep: 'partition.service', message: 'sgdisk: the disk went away', startedAt: at, finishedAt: at, steps: [], partitions: [] },
      },
    ];
    await writeFile(join(dir, 'install-2026-11-26T10-00-00-000Z.jsonl'), events.map(streamLine).join('\n') + '\n');
    await ui.waitFor('The automatic install failed at partition.service.');
    assert.match(ui.lastFrame()!, /sgdisk: the disk went away/);
    assert.match(ui.lastFrame()!, /What to do: check the cabling/);
    ctl.abort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stalled download says so on the Install screen: no progress for N s, the rate at 0, no ETA', async () => {
  const at = new Date().toISOString();
  const step = 'image-linux.service';
  const ui = watch((push) => {
    push({ type: 'step-start', at, step, title: 'Pull the image and unpack it onto the disk' });
    push({ type: 'progress', at, step, bytes: 40 * 2 ** 20, total: 200 * 2 ** 20, rate: 0, idleSeconds: 7 });
  });
  await ui.waitFor('no progress for 7 s');
  assert.match(ui.lastFrame()!, /40\.0 MiB of 200 MiB {2}0 B\/s {2}ETA --:-- {2}no progress for 7 s/);
});
