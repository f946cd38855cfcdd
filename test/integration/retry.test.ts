import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InstallEvent } from '../../ops/events.ts';
import { ImageSession } from '../../ops/image-source.ts';
import { prepareInstall } from '../../ops/prepare.ts';
import { parseRecipe } from '../../ops/recipe.ts';
import { runPlan, StepError } from '../../ops/runner.ts';
import { resumePoint, STEPS } from '../../ops/steps/index.ts';
import { attachLoop, loopsOf, makeDiskImage, sh } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'mcopy', 'zstd', 'setfacl'];
let work: string;
let registry: TestRegistry;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-retry-'));
  registry = await startRegistry();
  await makeRootfsTree(join(work, 'tree'));
  packRootfs(join(work, 'tree'), join(work, 'rootfs.tar.zst'), 'zstd');
  await pushArtifact(registry, 'os/rootfs:1', join(work, 'rootfs.tar.zst'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'rootfs.tar.zst',
  });
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('where a retry starts: the boot loader and config drive again, a failed image or partition step from scratch', async () => {
  const recipe = parseRecipe({
    task_target: 'install-linux.target',
    target_disk: '/dev/x',
    oci_url: 'r:1/a:b',
    partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/' }],
  });
  const plan = { steps: ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service'], recipe } as never;
  assert.equal(resumePoint(plan, 'bootloader-linux.service'), 'bootloader-linux.service');
  assert.equal(resumePoint(plan, 'config-drive.service'), 'config-drive.service');
  assert.equal(resumePoint(plan, 'image-linux.service'), undefined);
  assert.equal(resumePoint(plan, 'partition.service'), undefined);
  assert.equal(resumePoint(plan, undefined), undefined);
});

test('retry from a failed config drive: the disk is picked up again by its UUIDs, the image is not pulled again, and the tag moving meanwhile changes nothing', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'disk.img'), '1G');
  const recipe = parseRecipe({
    task_target: 'install-linux.target',
    target_disk: disk,
    oci_url: `${registry.host}/os/rootfs:1`,
    partition_layout: [
      { size: '16M', format: 'vfat', label: 'cidata' },
      { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
    user_data: '#cloud-config\nhostname: retried\n',
  });
  const { plan, inputs, secrets } = await prepareInstall(recipe, { stopBefore: 'bootloader-linux.service' });
  let failNext = true;
  const steps = {
    ...STEPS,
    'config-drive.service': {
      ...STEPS['config-drive.service'],
      async run(ctx: Parameters<(typeof STEPS)['config-drive.service']['run']>[0]) {
        if (failNext) {
          failNext = false;
          throw new StepError('the config drive could not be written (a stand-in failure for this test)');
        }
        return STEPS['config-drive.service'].run(ctx);
      },
    },
  };

  const first: InstallEvent[] = [];
  const image = new ImageSession();
  const failed = await runPlan(plan, { steps, inputs, secrets, image, onEvent: (e) => first.push(e) });
  assert.equal(failed.failedStep, 'config-drive.service');
  assert.ok(
    first.some((e) => e.type === 'progress'),
    'the first attempt pulled the image',
  );
  assert.equal(loopsOf(disk), '');

  // The tag now names another manifest: the retry still reports (and builds on) the one the first attempt installed.
  await pushArtifact(registry, 'os/rootfs:1', join(work, 'rootfs.tar.zst'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'moved.tar.zst',
  });
  const second: InstallEvent[] = [];
  const retried = await runPlan(plan, {
    steps,
    inputs,
    secrets,
    resumeFrom: resumePoint(plan, failed.failedStep),
    image: new ImageSession(image.artifact),
    onEvent: (e) => second.push(e),
  });
  assert.equal(retried.ok, true, JSON.stringify(second.filter((e) => e.type === 'step-fail')));
  assert.deepEqual(
    retried.steps.map((s) => s.step),
    ['config-drive.service'],
  );
  assert.deepEqual(
    second.filter((e) => e.type === 'step-skip').map((e) => e.type === 'step-skip' && [e.step, e.reason]),
    [
      ['bootloader-linux.service', 'left out by --stop-before'],
      ['partition.service', 'done in the earlier attempt'],
      ['image-linux.service', 'done in the earlier attempt'],
    ],
  );
  assert.ok(!second.some((e) => e.type === 'progress'), 'no download in the retry');
  assert.ok(!second.some((e) => e.type === 'command' && /sfdisk|mkfs/.test(e.command)), 'nothing repartitioned or reformatted');
  assert.ok(failed.imageDigest);
  assert.equal(retried.imageDigest, failed.imageDigest);
  assert.deepEqual(
    retried.partitions.map((p) => p.fsUuid),
    failed.partitions.map((p) => p.fsUuid),
  );
  assert.equal(loopsOf(disk), '', 'detached again');
  const img = attachLoop(disk, { partscan: true, readOnly: true });
  try {
    sh(`partprobe ${img} || true; for i in $(seq 50); do [ -b ${img}p1 ] && break; sleep 0.1; done`);
    assert.match(sh(`MTOOLS_SKIP_CHECK=1 mtype -i ${img}p1 ::/user-data`), /hostname: retried/);
  } finally {
    sh(`losetup -d ${img}`);
  }
});
