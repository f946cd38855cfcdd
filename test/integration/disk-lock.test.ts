/**
 * One install per disk, and what an install leaves when it is stopped at a bad moment. Every fault is injected
 * while the first install is held inside its image pull (a proxy of the test's own holds the blob open), or
 * while the CLI waits for a payload URL the test never answers: never after a sleep.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resultOf, runCli } from '../helpers/cli.ts';
import { attachLoop, inspectImage, loopsLeft, loopsOf, makeDiskImage, sh, sha256File } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { holdBlob } from '../helpers/hold-blob.ts';
import { waitGone, whenRunning } from '../helpers/processes.ts';
import { serve } from '../helpers/http-server.ts';
import { pushArtifact, startRegistry, type PushedArtifact, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.ext4', 'losetup', 'flock', 'setfacl'];
const ROOTFS = { mediaType: 'application/vnd.oci.image.layer.v1.tar', artifactType: 'application/vnd.shoal.rootfs.tar', title: 'rootfs.tar' };
let work: string;
let registry: TestRegistry;
let rootfs: PushedArtifact;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-disk-lock-'));
  registry = await startRegistry();
  await makeRootfsTree(join(work, 'tree'), 8 * 1024 * 1024);
  packRootfs(join(work, 'tree'), join(work, 'rootfs.tar'), 'none');
  rootfs = await pushArtifact(registry, 'os/rootfs:1', join(work, 'rootfs.tar'), ROOTFS);
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function recipeFile(name: string, host: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(work, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: '/dev/null-disk',
      oci_url: `${host}/os/rootfs:1`,
      partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
      ...extra,
    }),
  );
  return path;
}

const installArgs = (recipe: string, disk: string, log: string) => [
  'install',
  '--recipe',
  recipe,
  '--disk',
  disk,
  '--yes',
  '--json',
  '--stop-before',
  'bootloader-linux.service',
  '--log',
  join(work, log),
];

/** Start an install whose pull the proxy holds; resolves once it is held there, with the process and its end. */
async function heldInstall(name: string, disk: string) {
  const hold = await holdBlob(registry, rootfs.digest);
  let child: ChildProcess | undefined;
  const done = runCli(installArgs(await recipeFile(name, hold.host), disk, `${name}.jsonl`), { onSpawn: (c) => (child = c) });
  await Promise.race([hold.reached, done.then((r) => assert.fail(`the install ended before its pull was held (exit ${r.code}):\n${r.stdout.slice(-2000)}${r.stderr}`))]);
  return { hold, child: child!, done };
}

const ownMounts = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4]?.startsWith(dir));

test('two installs on one image file: the second (CLI, then auto mode) is refused at once (exit 3) naming the holder; the first completes alone', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'two.img'), '512M');
  const first = await heldInstall('first', disk);
  const started = Date.now();
  const second = await runCli(installArgs(await recipeFile('second', registry.host), disk, 'second.jsonl'));
  const took = Date.now() - started;
  // Auto mode too: the same job from a task ISO is refused, and says why.
  const task = await mkdtemp(join(work, 'two-auto-'));
  await writeFile(join(task, 'recipe.json'), await readFile(await recipeFile('two-auto', registry.host, { target_disk: disk })));
  await writeFile(join(task, 'cmdline'), 'quiet shoal.auto\n');
  const auto = await runCli(['auto', '--cmdline', join(task, 'cmdline'), '--task-dir', task, '--log', join(task, 'auto.jsonl')]);
  first.hold.release();
  const r1 = await first.done;
  await first.hold.close();

  assert.equal(second.code, 3, second.stderr);
  assert.match(second.stderr, new RegExp(`another install holds ${disk}: process ${first.child.pid} \\(.*shoal-install.* install `));
  assert.match(second.stderr, /Nothing was written/);
  assert.ok(took < 20_000, `refused at once, not after waiting (${took} ms)`);
  assert.equal(second.events.length, 0, 'the second run started nothing');
  assert.ok(!existsSync(join(work, 'second.jsonl')), 'the second run opened no log');
  assert.equal(auto.code, 3, auto.stdout.slice(-2000));
  assert.match(auto.stdout, new RegExp(`another install holds ${disk}: process ${first.child.pid} `));

  assert.equal(r1.code, 0, r1.stdout.slice(-3000) + r1.stderr);
  const fsUuid = resultOf(r1)!.partitions[0]!.fsUuid;
  const look = await inspectImage(disk, join(work, 'look-two'));
  try {
    assert.equal(look.blkid(1).UUID, fsUuid, 'the disk holds the first install, and only it');
  } finally {
    await look.release();
  }
  assert.equal(await loopsLeft(disk), '');
});

test('two installs on one loop block device: the whole-disk flock is held (as systemd tools see it) and the second is refused', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const image = makeDiskImage(join(work, 'block.img'), '512M');
  const loop = attachLoop(image);
  try {
    const first = await heldInstall('block-first', loop);
    const probe = sh(`flock --exclusive --nonblock ${loop} true && echo free || echo locked`).trim();
    const second = await runCli(installArgs(await recipeFile('block-second', registry.host), loop, 'block-second.jsonl'));
    first.hold.release();
    const r1 = await first.done;
    await first.hold.close();
    assert.equal(probe, 'locked', 'util-linux flock (as systemd-repart, udev) sees the disk locked');
    assert.equal(second.code, 3, second.stderr);
    assert.match(second.stderr, new RegExp(`another install holds ${loop}: process ${first.child.pid} `));
    assert.equal(r1.code, 0, r1.stdout.slice(-3000) + r1.stderr);
    assert.equal(sh(`flock --exclusive --nonblock ${loop} true && echo free || echo locked`).trim(), 'free', 'released at the end');
  } finally {
    sh(`losetup -d ${loop}`);
  }
});

test('SIGKILL mid-install: plan names the stale mounts and the command; the next install clears them and completes', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'killed.img'), '512M');
  // Should the installer fail to clear them, the test does, so that no failure leaves mounts behind.
  t.after(() => {
    for (const loop of loopsOf(disk).split('\n').filter(Boolean)) {
      for (const dir of new Set(sh(`lsblk --noheadings --output MOUNTPOINTS ${loop}`).match(/\/run\/shoal-install\/target-\w+/g) ?? [])) sh(`umount --recursive ${dir}`);
      sh(`losetup -d ${loop}`);
    }
  });
  const first = await heldInstall('killed', disk);
  // Tar runs, so the target is mounted and being written, when the installer dies.
  const kids = await whenRunning(first.child.pid!, 'tar');
  first.child.kill('SIGKILL');
  const r1 = await first.done;
  await waitGone(kids);
  first.hold.release();
  await first.hold.close();
  assert.equal(r1.code, null, 'killed');
  const [loop] = loopsOf(disk).split('\n');
  assert.ok(loop, 'the killed install left its loop device attached');

  const recipe = await recipeFile('after-kill', registry.host);
  const plan = await runCli(['plan', '--recipe', recipe, '--disk', disk]);
  assert.equal(plan.code, 3, plan.stderr);
  const stale = new RegExp(`left mounted by an install that did not finish.*umount --recursive (/run/shoal-install/target-\\w+) && losetup -d ${loop}`);
  assert.match(plan.stderr, stale);
  const dir = stale.exec(plan.stderr)![1]!;
  assert.ok((await ownMounts(dir)).length > 0, `${dir} is still mounted after plan (plan writes nothing)`);

  const r2 = await runCli(installArgs(recipe, disk, 'after-kill.jsonl'));
  assert.equal(r2.code, 0, r2.stdout.slice(-3000) + r2.stderr);
  const cleared = r2.events.find((e) => e.type === 'log' && e.message.startsWith('cleared what an install that did not finish left'));
  assert.ok(cleared?.type === 'log', 'the install said what it cleared');
  assert.match(cleared.message, new RegExp(`unmounted ${dir} and detached ${loop}`));
  assert.deepEqual(await ownMounts(dir), [], `${dir} is unmounted`);
  assert.equal(await loopsLeft(disk), '');
});

test('SIGTERM before the first step (a payload URL still loading): exit 130, a clean message, nothing written', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'early.img'), '256M');
  const before = await sha256File(disk);
  let asked!: () => void;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  // Never answers: the CLI is inside prepare, waiting for user_data, when the signal comes.
  const silent = await serve(() => asked());
  try {
    const recipe = await recipeFile('early', registry.host, { user_data: { url: `http://${silent.host}/user-data` } });
    let signalled = 0;
    const r = await runCli(installArgs(recipe, disk, 'early.jsonl'), {
      onSpawn: (child) => void requested.then(() => ((signalled = Date.now()), child.kill('SIGTERM'))),
    });
    assert.equal(r.code, 130, `exit ${r.code}: ${r.stderr}`);
    assert.ok(Date.now() - signalled < 10_000, `stopped at once, not when the fetch gave up (${Date.now() - signalled} ms)`);
    assert.match(r.stderr, /SIGTERM: stopping/);
    assert.match(r.stderr, /stopped before the install started: nothing was written/);
    assert.doesNotMatch(r.stderr, /at .*\.(ts|mjs):\d+/, 'no stack trace');
    assert.equal(await sha256File(disk), before);
  } finally {
    await silent.close();
  }
});

test('auto mode: SIGTERM before the first step: exit 130 and one clear failure', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'auto-early.img'), '256M');
  const before = await sha256File(disk);
  let asked!: () => void;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  const silent = await serve(() => asked());
  const dir = await mkdtemp(join(work, 'auto-early-'));
  try {
    await writeFile(
      join(dir, 'recipe.json'),
      await readFile(await recipeFile('auto-early', registry.host, { target_disk: disk, user_data: { url: `http://${silent.host}/user-data` } })),
    );
    await writeFile(join(dir, 'cmdline'), 'quiet shoal.auto\n');
    let signalled = 0;
    const r = await runCli(['auto', '--cmdline', join(dir, 'cmdline'), '--task-dir', dir, '--log', join(dir, 'auto.jsonl')], {
      onSpawn: (child) => void requested.then(() => ((signalled = Date.now()), child.kill('SIGTERM'))),
    });
    assert.equal(r.code, 130, `exit ${r.code}: ${r.stdout.slice(-2000)}${r.stderr}`);
    assert.ok(Date.now() - signalled < 10_000, `stopped at once, not when the fetch gave up (${Date.now() - signalled} ms)`);
    assert.match(r.stdout, /stopped \(SIGINT\/SIGTERM\) before the install started/);
    assert.equal((r.stdout.match(/INSTALL FAILED/g) ?? []).length, 1);
    assert.equal(await sha256File(disk), before);
  } finally {
    await silent.close();
  }
});

test('the image file deleted during the install: the install fails and says the result is gone', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'deleted.img'), '512M');
  const first = await heldInstall('deleted', disk);
  await unlink(disk);
  first.hold.release();
  const r = await first.done;
  await first.hold.close();
  assert.equal(r.code, 1, r.stdout.slice(-3000) + r.stderr);
  const result = resultOf(r)!;
  assert.equal(result.ok, false);
  assert.match(result.message!, new RegExp(`the disk image ${disk} was deleted during the install: what was installed onto it is gone`));
  const log = await readFile(join(work, 'deleted.jsonl'), 'utf8');
  const loops = [...new Set(log.match(/\/dev\/loop\d+/g) ?? [])];
  for (const loop of loops) assert.equal(sh(`losetup --noheadings --output BACK-FILE ${loop} 2>/dev/null | grep -cF ${disk} || true`).trim(), '0', `${loop} was detached`);
});
