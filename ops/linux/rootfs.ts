// A rootfs tarball onto the mounted target: tar's command line, and the single-file artifact's unpack (image-linux.service).
import { pipeline } from 'node:stream/promises';
import { commandLine } from '../exec.ts';
import { openArtifact } from '../image-source.ts';
import type { ImageFormat } from '../oci/format.ts';
import { StepError, type StepContext } from '../runner.ts';

/** The fast system decompressors, reading the layer on stdin. */
const DECOMPRESSOR: Record<Exclude<ImageFormat, 'wim'>, string | undefined> = { tar: undefined, gzip: 'pigz -dc', zstd: 'zstd -dc', xz: 'xz -dc -T0' };

/**
 * GNU tar keeps numeric owners, modes, ACLs and every xattr (security.selinux among them: copied as a raw
 * xattr, which needs no SELinux in the maintenance OS).
 */
export function tarCommand(root: string): string[] {
  return ['tar', '--extract', '--file=-', `--directory=${root}`, '--numeric-owner', '--preserve-permissions', '--same-owner', '--xattrs', '--xattrs-include=*', '--acls'];
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

/** A single-file artifact's one tarball, as it has always been unpacked: `decompressor | tar` in one shell. */
export async function unpackArtifact(ctx: StepContext, root: string): Promise<void> {
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
