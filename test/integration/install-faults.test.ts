import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { resultOf, runCli } from '../helpers/cli.ts';
import { loopsLeft, makeDiskImage, sh, sha256File } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { holdBlob } from '../helpers/hold-blob.ts';
import { alive, whenRunning } from '../helpers/processes.ts';
import { corruptBlob, pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['docker-registry', 'skopeo', 'htpasswd', 'sgdisk', 'zstd', 'setfacl'];
const ROOTFS = { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', artifactType: 'application/vnd.shoal.rootfs.tar.zst', title: 'rootfs.tar.zst' };
let work: string;
let open: TestRegistry;
let locked: TestRegistry;
let bigSize: number;
let bigDigest: string;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-faults-'));
  open = await startRegistry();
  locked = await startRegistry({ auth: { username: 'shoal', password: 'registry-pass-123' } });
  await makeRootfsTree(join(work, 'tree'));
  packRootfs(join(work, 'tree'), join(work, 'rootfs.tar.zst'), 'zstd');
  await pushArtifact(open, 'os/rootfs:good', join(work, 'rootfs.tar.zst'), ROOTFS);
  await pushArtifact(locked, 'os/rootfs:good', join(work, 'rootfs.tar.zst'), ROOTFS);
  // Its own content, so corrupting it leaves the good tag's blob alone.
  sh(`cp ${join(work, 'rootfs.tar.zst')} ${join(work, 'bad.tar.zst')} && echo padding >> ${join(work, 'bad.tar.zst')}`);
  const bad = await pushArtifact(open, 'os/rootfs:corrupt', join(work, 'bad.tar.zst'), ROOTFS);
  corruptBlob(open, bad.digest);
  // Faults are injected while a proxy holds this blob's response open, so its size only has to exceed the hold.
  await makeRootfsTree(join(work, 'big'), 32 * 1024 * 1024);
  packRootfs(join(work, 'big'), join(work, 'big.tar'), 'none');
  const big = await pushArtifact(open, 'os/rootfs:big', join(work, 'big.tar'), { ...ROOTFS, mediaType: 'application/vnd.oci.image.layer.v1.tar', title: 'rootfs.tar' });
  bigSize = big.size;
  bigDigest = big.digest;
});

after(async () => {
  await open?.stop();
  await locked?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A disk image with data on it, so "untouched" means something. */
function usedDisk(name: string, size = '512M'): string {
  const disk = makeDiskImage(join(work, name), size);
  sh(`sgdisk --clear --new=1:2048:+100M --change-name=1:precious ${disk} >/dev/null && dd if=/dev/urandom of=${disk} bs=1M seek=2 count=8 conv=notrunc status=none`);
  return disk;
}

async function recipeFile(name: string, extra: Record<string, unknown>): Promise<string> {
  const path = join(work, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: '/dev/null-disk',
      oci_url: `${open.host}/os/rootfs:good`,
      partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
      ...extra,
    }),
  );
  return path;
}

const install = (recipe: string, disk: string, log = 'log.jsonl') =>
  runCli(['install', '--recipe', recipe, '--disk', disk, '--yes', '--json', '--stop-before', 'bootloader-linux.service', '--log', join(work, log)]);

/** The target directories an install's log names, those still mounted: only this test's own. */
async function stillMounted(log: string): Promise<string[]> {
  const dirs = new Set((await readFile(join(work, log), 'utf8')).match(/\/run\/shoal-install\/target-\w+/g) ?? []);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
  return [...dirs].filter((d) => mounts.some((m) => m === d || m.startsWith(`${d}/`)));
}

test('a layout bigger than the disk is refused (exit 3) and the disk is untouched', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = usedDisk('small.img', '256M');
  const before = await sha256File(disk);
  const recipe = await recipeFile('big', { partition_layout: [{ size: '1G', format: 'ext4', mountpoint: '/' }] });
  const r = await install(recipe, disk);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /partition_layout\[0\] \(1G\) does not fit/);
  assert.equal(await sha256File(disk), before);
});

test('a missing disk is refused (exit 3) with what to check', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const r = await install(await recipeFile('missing', {}), '/dev/no-such-disk');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /\/dev\/no-such-disk does not exist: check the disk name/);
});

test('an invalid recipe is bad input (exit 2) naming the field', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const r = await install(await recipeFile('invalid', { partition_layout: [{ size: 'lots' }] }), '/dev/null');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /\$\.partition_layout\[0\]\.size/);
});

test('install without --yes prints the plan and writes nothing', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = usedDisk('noyes.img');
  const before = await sha256File(disk);
  const r = await runCli(['install', '--recipe', await recipeFile('noyes', {}), '--disk', disk, '--stop-before', 'bootloader-linux.service']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /WILL BE DESTROYED/);
  assert.match(r.stderr, /add --yes/);
  assert.equal(await sha256File(disk), before);
});

test('a registry that wants credentials: 401 fails image-linux.service before the disk is written', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = usedDisk('auth.img');
  const before = await sha256File(disk);
  const r = await install(await recipeFile('noauth', { oci_url: `${locked.host}/os/rootfs:good` }), disk);
  assert.equal(r.code, 1, r.stderr);
  const result = resultOf(r)!;
  assert.equal(result.failedStep, 'image-linux.service');
  assert.match(result.message!, /credentials|unauthori[sz]ed|401/i);
  assert.ok(!r.events.some((e) => e.type === 'step-start'), 'no step started');
  assert.equal(await sha256File(disk), before);
});

test('with the credentials from the recipe the pull works and the password is never logged', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'authok.img'), '512M');
  await writeFile(join(work, 'registry_password'), 'registry-pass-123\n');
  const recipe = await recipeFile('auth', {
    oci_url: `${locked.host}/os/rootfs:good`,
    registry: { username: 'shoal', password: { path: join(work, 'registry_password') } },
  });
  const r = await install(recipe, disk);
  assert.equal(r.code, 0, r.stdout.slice(-2000));
  assert.ok(!r.stdout.includes('registry-pass-123'));
  assert.ok(!(await readFile(join(work, 'log.jsonl'), 'utf8')).includes('registry-pass-123'));
});

test('a blob whose bytes do not match its digest fails image-linux.service and cleans up', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'corrupt.img'), '512M');
  const r = await install(await recipeFile('corrupt', { oci_url: `${open.host}/os/rootfs:corrupt` }), disk, 'corrupt.jsonl');
  assert.equal(r.code, 1);
  const result = resultOf(r)!;
  assert.equal(result.failedStep, 'image-linux.service');
  assert.match(result.message!, /digest|sha256/i);
  assert.equal(await loopsLeft(disk), '', 'loop device detached');
  assert.deepEqual(await stillMounted('corrupt.jsonl'), [], 'nothing left mounted');
});

test('registry stopped mid-pull and restarted: the pull resumes (a 206 answer) and the install completes', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'resume.img'), '1G');
  const hold = await holdBlob(open, bigDigest);
  try {
    const run = install(await recipeFile('resume', { oci_url: `${hold.host}/os/rootfs:big` }), disk, 'resume.jsonl');
    await hold.reached;
    // The registry dies while it is known to be mid-blob; the held response breaks with it.
    await open.kill();
    await open.restart();
    hold.release();
    const r = await run;
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    const resumed = hold.blobResponses.find((b) => b.status === 206);
    assert.ok(resumed, `a later request resumed with Range and got 206: ${JSON.stringify(hold.blobResponses)}`);
    assert.ok(Number(/bytes=(\d+)-/.exec(resumed.range ?? '')?.[1]) > 0, `resumed mid-blob (${resumed.range})`);
    const last = r.events.filter((e) => e.type === 'progress').at(-1);
    assert.ok(last?.type === 'progress' && last.bytes === bigSize);
  } finally {
    await hold.close();
  }
});

test('a registry that hangs mid-pull: the progress says so (rate down to 0, seconds without progress), then the pull goes on', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'hang.img'), '1G');
  const hold = await holdBlob(open, bigDigest);
  try {
    // Held until the install has said, in its own events, that nothing has moved for five seconds.
    const run = runCli(
      ['install', '--recipe', await recipeFile('hang', { oci_url: `${hold.host}/os/rootfs:big` }), '--disk', disk, '--yes', '--json', '--stop-before', 'bootloader-linux.service'],
      {
        onLine: (line) => {
          if (!line.includes('"type":"progress"')) return;
          const e = JSON.parse(line) as { idleSeconds?: number; rate?: number };
          if (e.idleSeconds !== undefined && e.idleSeconds >= 5 && e.rate === 0) hold.release();
        },
      },
    );
    const r = await run;
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    const progress = r.events.filter((e) => e.type === 'progress');
    const stalled = progress.filter((e) => e.idleSeconds !== undefined);
    assert.ok(stalled.length >= 3, `progress went on while nothing moved (${stalled.length} events with idleSeconds)`);
    assert.ok(
      stalled.some((e) => e.idleSeconds! >= 5 && e.rate === 0 && e.etaSeconds === undefined),
      'after five quiet seconds the rate is 0 and there is no ETA',
    );
    assert.equal(progress.at(-1)?.bytes, bigSize, 'the pull finished after the registry woke up');
    assert.equal(progress.at(-1)?.idleSeconds, undefined);
  } finally {
    hold.release();
    await hold.close();
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} mid-pull: exit 130, the step reported as aborted, nothing left mounted or attached, no tar left running`, async (t) => {
    if (!skipUnless(t, TOOLS)) return;
    const disk = makeDiskImage(join(work, `${signal}.img`), '1G');
    const hold = await holdBlob(open, bigDigest);
    try {
      let child: ChildProcess | undefined;
      const log = `${signal}.jsonl`;
      const run = runCli(
        [
          'install',
          '--recipe',
          await recipeFile(signal, { oci_url: `${hold.host}/os/rootfs:big` }),
          '--disk',
          disk,
          '--yes',
          '--json',
          '--stop-before',
          'bootloader-linux.service',
          '--log',
          join(work, log),
        ],
        { onSpawn: (c) => (child = c) },
      );
      await hold.reached;
      const kids = await whenRunning(child!.pid!, 'tar');
      child!.kill(signal);
      const r = await run;
      assert.equal(r.code, 130, r.stderr);
      const result = resultOf(r)!;
      assert.equal(result.failedStep, 'image-linux.service');
      assert.match(result.message!, /aborted/);
      assert.equal(await loopsLeft(disk), '', 'loop device detached');
      assert.deepEqual(await stillMounted(log), [], 'nothing left mounted');
      assert.deepEqual(alive(kids), [], 'tar, the decompressor and their shell were stopped');
    } finally {
      hold.release();
      await hold.close();
    }
  });
}
