/**
 * The disk guard on real devices: a loop disk of the test's own with a mounted partition, with active swap, and
 * a disk image that is already attached. `install` (CLI and auto mode) exits 3 naming the reason and not one
 * byte of the disk changes; once the test lets go, the same disk plans (the guard saw the use, not the disk).
 * `plan` writes nothing. Only the test's own loop devices, mounts and swap are touched, and released after.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { runCli, type CliRun } from '../helpers/cli.ts';
import { attachLoop, makeDiskImage, sh, sha256File } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';

const TOOLS = ['losetup', 'sgdisk', 'partprobe', 'mkfs.ext4', 'mkswap', 'swapon', 'swapoff', 'mount'];
let work: string;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-disk-guard-'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function recipeFile(name: string, disk: string): Promise<string> {
  const path = join(work, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: disk,
      // Never reached: the guard refuses before the first step, and plan does not pull.
      oci_url: '127.0.0.1:9/os/rootfs:1',
      partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
    }),
  );
  return path;
}

/** A 256 MiB loop disk of the test's own with one partition; `release` undoes whatever the case added. */
async function loopDisk(t: TestContext, name: string) {
  const image = makeDiskImage(join(work, `${name}.img`), '256M');
  sh(`sgdisk --new=1:2048:0 ${image} >/dev/null`);
  const loop = attachLoop(image, { partscan: true });
  const undo: (() => void)[] = [() => sh(`losetup -d ${loop}`)];
  t.after(() => {
    for (const u of undo.reverse()) u();
  });
  sh(`partprobe ${loop} || true`);
  for (let i = 0; i < 50 && !existsSync(`${loop}p1`); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(`${loop}p1`), `${loop}p1 appeared`);
  return { image, loop, part: `${loop}p1`, undo };
}

const cliInstall = async (name: string, disk: string) =>
  runCli(['install', '--recipe', await recipeFile(name, disk), '--yes', '--json', '--stop-before', 'bootloader-linux.service', '--log', join(work, `${name}.jsonl`)], {
    timeoutMs: 60_000,
  });

async function autoInstall(name: string, disk: string) {
  const task = join(work, `${name}-task`);
  await mkdir(task, { recursive: true });
  await writeFile(
    join(task, 'recipe.json'),
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: '/dev/disk-that-is-not-here',
      oci_url: '127.0.0.1:9/os/rootfs:1',
      partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
    }),
  );
  await writeFile(join(task, 'cmdline'), `shoal.auto shoal.disk=${disk} shoal.net_wait=0\n`);
  return runCli(['auto', '--cmdline', join(task, 'cmdline'), '--defaults', join(task, 'no-defaults'), '--task-dir', task, '--log', join(work, `${name}.jsonl`)], {
    timeoutMs: 60_000,
  });
}

const explain = (r: CliRun) => `exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr}`;

/**
 * Both ways into an install are refused with exit 3 naming REASON, and the disk's bytes stay as they were. The
 * CLI run leaves out the boot loader, so the guard is its only objection (assertPlansOnceFree shows it); auto mode
 * runs every step, so on a kernel without vfat the layout is refused too, and the guard's reason must be named.
 */
async function assertRefused(name: string, disk: string, image: string, reason: RegExp) {
  const before = await sha256File(image);
  const cli = await cliInstall(`${name}-cli`, disk);
  assert.equal(cli.code, 3, explain(cli));
  assert.match(cli.stdout + cli.stderr, reason);
  const auto = await autoInstall(`${name}-auto`, disk);
  assert.equal(auto.code, 3, explain(auto));
  assert.match(auto.stdout, reason);
  assert.equal(await sha256File(image), before, 'not one byte of the disk changed');
}

/** The control: with the use gone, the same disk plans without a word of it. */
async function assertPlansOnceFree(name: string, disk: string) {
  const r = await runCli(['plan', '--recipe', await recipeFile(`${name}-free`, disk), '--stop-before', 'bootloader-linux.service']);
  assert.equal(r.code, 0, explain(r));
  assert.doesNotMatch(r.stdout, /is mounted at|active swap|is attached as/);
}

test('a mounted partition on the target: install and auto mode exit 3, the disk unchanged', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const d = await loopDisk(t, 'mounted');
  // Initialised in full and mounted read-only: a read-write ext4 keeps writing (lazy inode-table init, the journal)
  // on its own, and the hash must see the installer's writes only.
  sh(`mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 ${d.part}`);
  const at = join(work, 'mounted-at');
  await mkdir(at);
  sh(`mount -t ext4 -o ro ${d.part} ${at}`);
  let mounted = true;
  d.undo.push(() => mounted && sh(`umount ${at}`));
  await assertRefused('mounted', d.loop, d.image, new RegExp(`${d.part} is mounted at ${at}`));
  sh(`umount ${at}`);
  mounted = false;
  await assertPlansOnceFree('mounted', d.loop);
});

test('active swap on the target: install and auto mode exit 3, the disk unchanged', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const d = await loopDisk(t, 'swap');
  sh(`mkswap ${d.part} >/dev/null`);
  sh(`swapon ${d.part}`);
  let on = true;
  d.undo.push(() => on && sh(`swapoff ${d.part}`));
  await assertRefused('swap', d.loop, d.image, new RegExp(`${d.part} is active swap`));
  sh(`swapoff ${d.part}`);
  on = false;
  await assertPlansOnceFree('swap', d.loop);
});

test('a disk image that is already attached: install and auto mode exit 3, the image unchanged', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const image = makeDiskImage(join(work, 'attached.img'), '256M');
  sh(`sgdisk --new=1:2048:0 ${image} >/dev/null`);
  const loop = attachLoop(image);
  let attached = true;
  t.after(() => attached && sh(`losetup -d ${loop}`));
  await assertRefused('attached', image, image, new RegExp(`the image is attached as ${loop}: detach it first`));
  sh(`losetup -d ${loop}`);
  attached = false;
  await assertPlansOnceFree('attached', image);
});

test('plan writes nothing: a loop disk with a partition table and a filesystem hashes the same before and after', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const d = await loopDisk(t, 'plan');
  sh(`mkfs.ext4 -q -F -L old-root ${d.part}`);
  const before = await sha256File(d.image);
  const r = await runCli(['plan', '--recipe', await recipeFile('plan', d.loop), '--stop-before', 'bootloader-linux.service']);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /WILL BE DESTROYED|ON THE DISK NOW/);
  const json = await runCli(['plan', '--recipe', await recipeFile('plan-json', d.loop), '--stop-before', 'bootloader-linux.service', '--json']);
  assert.equal(json.code, 0, explain(json));
  assert.equal(await sha256File(d.image), before, 'plan and plan --json left every byte as it was');
});
