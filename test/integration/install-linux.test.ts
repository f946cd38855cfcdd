import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resultOf, runCli } from '../helpers/cli.ts';
import { inspectImage, loopsOf, makeDiskImage, sh } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'mkfs.xfs', 'mcopy', 'zstd', 'pigz', 'xz', 'setfacl', 'getfattr'];
const USER_DATA = '#cloud-config\nhostname: it-host\npassword: hunter2-secret-value\n';
let work: string;
let registry: TestRegistry;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-it-'));
  registry = await startRegistry();
  const tree = join(work, 'tree');
  await makeRootfsTree(tree);
  packRootfs(tree, join(work, 'rootfs.tar.gz'), 'gzip');
  packRootfs(tree, join(work, 'rootfs.tar.zst'), 'zstd');
  packRootfs(tree, join(work, 'rootfs.tar.xz'), 'xz');
  await pushArtifact(registry, 'os-images/test-rootfs:gz', join(work, 'rootfs.tar.gz'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    artifactType: 'application/vnd.shoal.rootfs.tar.gz',
    title: 'rootfs.tar.gz',
  });
  // A custom media type: the installer must fall back to the title, then to the magic bytes.
  await pushArtifact(registry, 'os-images/test-rootfs:zst', join(work, 'rootfs.tar.zst'), {
    mediaType: 'application/vnd.example.opaque',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'rootfs',
  });
  await pushArtifact(registry, 'os-images/test-rootfs:xz', join(work, 'rootfs.tar.xz'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+xz',
    artifactType: 'application/vnd.shoal.rootfs.tar.xz',
    title: 'rootfs.tar.xz',
  });
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function recipe(tag: string, disk: string) {
  return {
    schema_version: '1',
    task_target: 'install-linux.target',
    target_disk: disk,
    oci_url: `${registry.host}/os-images/test-rootfs:${tag}`,
    hostname: 'it-host',
    partition_layout: [
      { size: '64M', type_guid: 'ef00', format: 'vfat', label: 'EFI' },
      { size: '16M', format: 'vfat', label: 'cidata' },
      { size: '64M', type_guid: '8200', format: 'swap', label: 'swap' },
      { size: '1G', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
      { size: '100%', format: 'xfs', mountpoint: '/var', label: 'var' },
    ],
    user_data: USER_DATA,
  };
}

for (const tag of ['gz', 'zst', 'xz']) {
  test(`headless install of a ${tag} rootfs onto a loop disk: GPT, filesystems, tree, fstab, config drive`, async (t) => {
    if (!skipUnless(t, TOOLS)) return;
    const disk = makeDiskImage(join(work, `disk-${tag}.img`), '2G');
    const recipePath = join(work, `recipe-${tag}.json`);
    await writeFile(recipePath, JSON.stringify(recipe(tag, disk)));
    const logPath = join(work, `install-${tag}.jsonl`);

    const plan = await runCli(['plan', '--recipe', recipePath, '--stop-before', 'bootloader-linux.service']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /WILL BE DESTROYED/);

    const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json', '--stop-before', 'bootloader-linux.service', '--log', logPath]);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
    const result = resultOf(run)!;
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.steps.map((s) => s.step),
      ['partition.service', 'image-linux.service', 'config-drive.service'],
    );
    assert.ok(run.events.some((e) => e.type === 'step-skip' && e.step === 'bootloader-linux.service'));
    const progress = run.events.filter((e) => e.type === 'progress');
    assert.ok(progress.length >= 1, 'progress events were emitted');
    const lastProgress = progress.at(-1)!;
    assert.ok(lastProgress.type === 'progress' && lastProgress.total && lastProgress.bytes === lastProgress.total);

    const log = await readFile(logPath, 'utf8');
    assert.ok(!log.includes('hunter2-secret-value') && !run.stdout.includes('hunter2-secret-value'), 'user-data never reaches the log');
    assert.match(log, /"type":"result"/);
    assert.equal(loopsOf(disk), '', 'the loop device was detached');
    // This install's own target directories only: other installs may run on the machine meanwhile.
    const targets = new Set(log.match(/\/run\/shoal-install\/target-\w+/g));
    assert.ok(targets.size > 0, 'the log names the target directory');
    const mounted = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
    assert.deepEqual(
      mounted.filter((m) => [...targets].some((t) => m === t || m.startsWith(`${t}/`))),
      [],
      'nothing left mounted',
    );

    const gpt = sh(`sgdisk --print ${disk}`);
    assert.match(gpt, /Number\s+Start/);
    const types = [1, 2, 3, 4, 5].map((n) => sh(`sgdisk --info=${n} ${disk}`));
    assert.match(types[0]!, /EFI system partition/i);
    assert.match(types[2]!, /Linux swap/);
    assert.match(types[3]!, /Linux x86-64 root|Linux filesystem/);
    assert.match(types[0]!, /Partition name: 'EFI'/);
    for (const p of result.partitions) assert.match(types[p.number - 1]!, new RegExp(`Partition unique GUID: ${p.partGuid}`, 'i'));

    const img = await inspectImage(disk, join(work, `mnt-${tag}`));
    try {
      const labels = [1, 2, 3, 4, 5].map((n) => img.blkid(n));
      assert.deepEqual(
        labels.map((b) => b.TYPE),
        ['vfat', 'vfat', 'swap', 'ext4', 'xfs'],
      );
      assert.deepEqual(
        labels.map((b) => b.LABEL),
        ['EFI', 'cidata', 'swap', 'root', 'var'],
      );
      for (const p of result.partitions) assert.equal(labels[p.number - 1]!.UUID, p.fsUuid);

      const root = await img.mount(4, 'root', 'ext4');
      const varDir = await img.mount(5, 'root/var', 'xfs');
      const fstab = await readFile(join(root, 'etc/fstab'), 'utf8');
      assert.match(fstab, new RegExp(`^UUID=${labels[3]!.UUID} / ext4 errors=remount-ro 0 1$`, 'm'));
      assert.match(fstab, new RegExp(`^UUID=${labels[4]!.UUID} /var xfs defaults 0 0$`, 'm'));
      assert.match(fstab, new RegExp(`^UUID=${labels[2]!.UUID} none swap sw 0 0$`, 'm'));

      const data = await stat(join(varDir, 'lib/app/data'));
      assert.deepEqual([data.uid, data.gid], [1234, 5678], 'numeric owners kept');
      assert.equal((await stat(join(root, 'usr/bin/tool'))).mode & 0o7777, 0o4755, 'setuid kept');
      assert.equal((await stat(join(root, 'usr/bin/tool'))).nlink, 2, 'hard link kept');
      assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777, 'sticky bit kept');
      assert.match(sh(`getfattr --only-values -n user.shoal ${join(varDir, 'lib/app/data')}`), /kept/);
      assert.match(sh(`getfacl -n ${join(varDir, 'lib/app')}`), /user:2000:rwx/);
      assert.match(await readFile(join(root, 'etc/os-release'), 'utf8'), /ID=shoaltest/);

      const cidata = sh(`MTOOLS_SKIP_CHECK=1 mdir -b -i ${img.part(2)} ::/`);
      assert.match(cidata, /user-data/);
      assert.equal(sh(`MTOOLS_SKIP_CHECK=1 mtype -i ${img.part(2)} ::/user-data`), USER_DATA);
      const meta = sh(`MTOOLS_SKIP_CHECK=1 mtype -i ${img.part(2)} ::/meta-data`);
      assert.match(meta, /^instance-id: iid-\S+$/m);
      assert.match(meta, /^local-hostname: it-host$/m);
    } finally {
      await img.release();
    }
  });
}
