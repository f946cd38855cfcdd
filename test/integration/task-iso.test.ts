/**
 * The task ISO on a real block device, mounted for real: the boot's decision and auto mode find recipe.json and
 * shoal.conf on it, mount it read-only, and let go of it. Not every test kernel has iso9660 (docs/test-machines.md), so the
 * medium is an ext4 image on a read-only loop device, mounted with `-t ext4`; sysfs stands aside (the drive list
 * is given), since which drives count is the unit tests' matter. The VM test mounts real ISOs found through sysfs.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runAuto } from '../../ops/auto.ts';
import { decideBootMode } from '../../ops/boot-mode.ts';
import { mountIso, type Drive } from '../../ops/task-iso.ts';
import { attachLoop, sh } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';

let work: string;
const loops: string[] = [];
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'task-iso-int-'));
});
after(async () => {
  // A failed test may leave its own mounts (under work) behind: they go first, then the loop devices.
  const ours = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => work && m.startsWith(`${work}/`));
  for (const m of ours.reverse()) sh(`umount ${m} || true`);
  for (const l of loops) sh(`losetup -d ${l} || true`);
  if (work) await rm(work, { recursive: true, force: true });
});

/** An ext4 medium holding `files`, on a read-only loop device of its own. */
async function medium(name: string, files: Record<string, string>): Promise<string> {
  const content = join(work, `${name}.content`);
  await mkdir(content, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(content, f), text);
  const img = join(work, `${name}.img`);
  sh(`mkfs.ext4 -q -d ${content} ${img} 8M`);
  const loop = attachLoop(img, { readOnly: true });
  loops.push(loop);
  return loop;
}

/** Our mount point's entries in this process's mount table. */
const mountsAt = async (at: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === at).length;

const ext4 = (device: string, at: string) => mountIso(device, at, 'ext4');

test('the boot: a drive without recipe.json is let go, the one with it is found, its shoal.conf read, and it is unmounted for auto mode', async (t) => {
  if (!skipUnless(t, ['losetup', 'mkfs.ext4', 'mount'])) return;
  const other = await medium('other', { 'README.txt': 'not a task' });
  const task = await medium('task', { 'recipe.json': '{}', 'shoal.conf': 'shoal.webhook=http://10.0.0.1:8080 # the controller\n' });
  const at = join(work, 'boot-mnt');
  const drives = async (): Promise<Drive[]> => [
    { device: other, kind: 'USB' },
    { device: task, kind: 'USB' },
  ];
  const said: string[] = [];
  const d = await decideBootMode({
    cmdlineFile: join(work, 'cmdline-none'),
    defaultsFile: join(work, 'no-defaults'),
    find: { at, mount: ext4, drives, pollMs: 50 },
    say: (m) => said.push(m),
  });
  assert.equal(d.mode, 'auto', d.reason);
  assert.equal(d.reason, `recipe.json on the task ISO on ${task} (mounted at ${at})`);
  assert.equal(await mountsAt(at), 0, 'nothing is left mounted');

  // A task ISO that says hands off.
  const off = await medium('off', { 'recipe.json': '{}', 'shoal.conf': 'shoal.auto=0\n' });
  const d2 = await decideBootMode({
    cmdlineFile: join(work, 'cmdline-none'),
    defaultsFile: join(work, 'no-defaults'),
    find: { at, mount: ext4, drives: async () => [{ device: off, kind: 'USB' }], pollMs: 50 },
  });
  assert.equal(d2.mode, 'console');
  assert.equal(await mountsAt(at), 0);
});

test('a stale mount on the mount point (an earlier run that died) is replaced, not stacked', async (t) => {
  if (!skipUnless(t, ['losetup', 'mkfs.ext4', 'mount'])) return;
  const stale = await medium('stale', { 'recipe.json': '{"stale":true}' });
  const fresh = await medium('fresh', { 'recipe.json': '{"fresh":true}' });
  const at = join(work, 'stale-mnt');
  await ext4(stale, at);
  const release = await ext4(fresh, at);
  try {
    assert.equal(await mountsAt(at), 1);
    assert.equal(await readFile(join(at, 'recipe.json'), 'utf8'), '{"fresh":true}');
  } finally {
    await release();
  }
  assert.equal(await mountsAt(at), 0);
});

test("auto mode reads the task ISO's shoal.conf from the mounted medium, reports, and unmounts it at the end", async (t) => {
  if (!skipUnless(t, ['losetup', 'mkfs.ext4', 'mount'])) return;
  const serial = 'TASK-ISO-CONF';
  const requests: string[] = [];
  const { createServer } = await import('node:http');
  const hook = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
  try {
    const task = await medium('auto', {
      'recipe.json': '{"task_target": "install-linux.target", "partition_layout": []}',
      'shoal.conf': `shoal.webhook=${url}\nshoal.serial=${serial}\n`,
    });
    await writeFile(join(work, 'cmdline-auto'), 'BOOT_IMAGE=/live/vmlinuz boot=live shoal.task_wait=5\n');
    const at = join(work, 'auto-mnt');
    const lines: string[] = [];
    const out = await runAuto({
      cmdlineFile: join(work, 'cmdline-auto'),
      defaultsFile: join(work, 'no-defaults'),
      logPath: join(work, 'auto.jsonl'),
      mountPoint: at,
      mount: ext4,
      drives: async () => [{ device: task, kind: 'USB' }],
      write: (l) => lines.push(l),
      webhookRetryDelaysMs: [],
    });
    const text = lines.join('\n');
    assert.equal(out.exitCode, 2, text);
    assert.ok(text.includes(`recipe from the task ISO on ${task} (mounted at ${at})`), text);
    assert.match(text, /shoal\.serial=TASK-ISO-CONF from the task ISO's shoal\.conf/);
    assert.deepEqual(requests, [`POST /api/v1/status-webhook/${serial}`]);
    assert.equal(await mountsAt(at), 0, 'the task ISO is let go once auto mode ends');
  } finally {
    hook.close();
  }
});
