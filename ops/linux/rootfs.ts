import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { commandLine } from '../exec.ts';
import { artifactDescription, openArtifact, resolveArtifact } from '../image-source.ts';
import type { ImageFormat } from '../oci/format.ts';
import type { Plan } from '../plan.ts';
import { StepError, type StepContext, type StepImpl } from '../runner.ts';
import { renderFstab } from './fstab.ts';
import { mountOptions, mountOrder } from './mounts.ts';
import { mountTarget } from './mounts.ts';
import { partitionDevice } from '../disks.ts';
import { existsInRoot, inImage, writeFileInRoot } from '../in-root.ts';
import { checkBootable, describeBootable } from './bootable.ts';
import { BuilderLeftovers } from './builder-leftovers.ts';
import { applyLayers, describeLayers, imageDescription, isLayeredImage } from './layers.ts';

/** The fast system decompressors, reading the layer on stdin. */
const DECOMPRESSOR: Record<Exclude<ImageFormat, 'wim'>, string | undefined> = { tar: undefined, gzip: 'pigz -dc', zstd: 'zstd -dc', xz: 'xz -dc -T0' };

/**
 * GNU tar keeps numeric owners, modes, ACLs and every xattr (security.selinux among them: copied as a raw
 * xattr, which needs no SELinux in the maintenance OS).
 */
export function tarCommand(root: string): string[] {
  return [
    'tar',
    '--extract',
    '--file=-',
    `--directory=${root}`,
    '--numeric-owner',
    '--preserve-permissions',
    '--same-owner',
    '--xattrs',
    '--xattrs-include=*',
    '--acls',
  ];
}

/**
 * The layer's way into tar: `decompressor | tar` in a shell, so that the two share a pipe of their own. Not tar's
 * --use-compress-program: for reading, GNU tar relays the archive to the decompressor through a child of its own,
 * in 10 KiB records, which cost a third more time in the unpack (measured with the bench's artifact).
 */
export function unpackCommand(root: string, format: Exclude<ImageFormat, 'wim'>): string[] {
  const decompressor = DECOMPRESSOR[format];
  const tar = tarCommand(root);
  // trap: a cancelled install stops this shell with SIGTERM; the shell then outlives the pipe, which ends as soon
  // as the download is cut, so that the step is not over before tar has let go of the target's files.
  return decompressor ? ['bash', '-o', 'pipefail', '-c', `trap "" TERM; ${decompressor} | ${commandLine(tar)}`] : tar;
}

const isPipeError = (e: unknown) => ['EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED'].includes((e as NodeJS.ErrnoException)?.code ?? '');

export const imageLinuxStep: StepImpl = {
  title: 'Pull the image and unpack it onto the disk',
  describe(plan: Plan, device: string) {
    const root = '/run/shoal-install/target-XXXX';
    return [
      ...mountOrder(plan.partitions).map((p) => commandLine(['mount', ...mountOptions(p), partitionDevice(device, p.number), join(root, p.mountpoint!)])),
      `GET ${plan.recipe.oci_url} (manifest; from an index, the one for this machine's platform; its digest is logged and reported)`,
      `a single-file artifact: ${commandLine(unpackCommand(root, 'zstd')).replace('zstd -dc', '<pigz|zstd|xz> -dc')} < layer (sha256 checked as it streams)`,
      ...describeLayers().map((l, i) => (i === 0 ? `a container image: ${l}` : l)),
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

/** A single-file artifact's one tarball, as it has always been unpacked: `decompressor | tar` in one shell. */
async function unpackArtifact(ctx: StepContext, root: string): Promise<void> {
  const { stream, format } = await openArtifact(ctx);
  if (format === 'wim') throw new StepError('the layer is a WIM image, not a rootfs tarball');
  const tar = ctx.spawn(unpackCommand(root, format), { stdinPipe: true });
  const feeding = pipeline(stream, tar.child.stdin!);
  feeding.catch(() => tar.child.kill());
  const [fed, extracted] = await Promise.allSettled([feeding, tar.done]);
  // A broken download explains a killed tar; a tar failure (disk full) explains a broken pipe.
  if (fed.status === 'rejected' && !isPipeError(fed.reason)) throw fed.reason;
  if (extracted.status === 'rejected') throw extracted.reason;
  if (fed.status === 'rejected') throw fed.reason;
}
