// image-linux.service: the image pulled and unpacked onto the mounted layout, then its fstab. A single-file
// artifact is one tarball (ops/linux/rootfs.ts); a container image is its layers (ops/linux/layers.ts).
import { join } from 'node:path';
import { partitionDevice } from '../disks.ts';
import { commandLine } from '../exec.ts';
import { artifactDescription, resolveArtifact } from '../image-source.ts';
import { existsInRoot, inImage, writeFileInRoot } from '../in-root.ts';
import { checkBootable, describeBootable } from '../linux/bootable.ts';
import { BuilderLeftovers } from '../linux/builder-leftovers.ts';
import { renderFstab } from '../linux/fstab.ts';
import { applyLayers, describeLayers, imageDescription, isLayeredImage } from '../linux/layers.ts';
import { mountOptions, mountOrder, mountTarget } from '../linux/mounts.ts';
import { unpackArtifact, unpackCommand } from '../linux/rootfs.ts';
import { startWriteback } from '../linux/writeback.ts';
import type { Plan } from '../plan.ts';
import { isWindows } from '../recipe.ts';
import { StepError } from '../runner.ts';
import type { Step } from './step.ts';

export const imageLinuxStep: Step<'image-linux.service'> = {
  name: 'image-linux.service',
  title: 'Pull the image and unpack it onto the disk',
  wanted: (recipe) => !isWindows(recipe),
  resumable: false,
  describe(plan: Plan, device: string) {
    const root = '/run/shoal-install/target-XXXX';
    return [
      ...mountOrder(plan.partitions).map((p) => commandLine(['mount', ...mountOptions(p), partitionDevice(device, p.number), join(root, p.mountpoint!)])),
      `GET ${plan.recipe.oci_url} (manifest; from an index, the one for this machine's platform; its digest is logged and reported)`,
      `a single-file artifact: ${commandLine(unpackCommand(root, 'zstd')).replace('zstd -dc', '<pigz|zstd|xz> -dc')} < layer (sha256 checked as it streams)`,
      ...describeLayers().map((l, i) => (i === 0 ? `a container image: ${l}` : l)),
      `${commandLine(['sync', '--file-system', root])} (started as the unpack ends, in the background; the unmount waits for it)`,
      ...(plan.steps.includes('bootloader-linux.service') ? [describeBootable()] : []),
      `write ${root}/etc/fstab (every filesystem and swap by UUID)`,
    ];
  },
  /** A retry after this step reports the same image. */
  async reattach(ctx) {
    await resolveArtifact(ctx);
  },
  async preflight(ctx) {
    const artifact = await resolveArtifact(ctx);
    if (artifact.kind === 'wim') {
      throw new StepError(`${ctx.plan.recipe.oci_url} is a Windows WIM, not a Linux rootfs`, 'use task_target install-windows.target for this image, or pick a rootfs image');
    }
    ctx.log(isLayeredImage(artifact.resolved) ? imageDescription(artifact.resolved) : artifactDescription(artifact));
  },
  async run(ctx) {
    const root = await mountTarget(ctx);
    if (isLayeredImage((await resolveArtifact(ctx)).resolved)) {
      const leftovers = new BuilderLeftovers(root, ctx.log);
      await applyLayers(ctx, root, (i) => leftovers.afterLayer(i));
      await leftovers.finish();
    } else {
      await unpackArtifact(ctx, root);
    }
    startWriteback(ctx, root);
    if (!(await existsInRoot(root, 'etc/os-release')) && !(await existsInRoot(root, 'usr/lib/os-release'))) {
      throw new StepError('the unpacked image has no etc/os-release', 'is the artifact a rootfs tarball with directories relative to / ?');
    }
    if (ctx.plan.steps.includes('bootloader-linux.service')) {
      const boot = await checkBootable(root);
      ctx.log(`bootable: kernel ${boot.kernel}, initramfs ${boot.initramfs}, GRUB modules in ${boot.grubModules}`);
    }
    const fstab = await writeFileInRoot(root, 'etc/fstab', renderFstab(ctx.plan.partitions, ctx.state.fsUuids, mountOrder(ctx.plan.partitions)), { log: ctx.log });
    ctx.log(`wrote ${inImage(root, fstab)}`);
  },
};
