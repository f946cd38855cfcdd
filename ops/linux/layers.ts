// A container image's layers onto the target root, bottom first, each streamed:
//   registry (sha256 checked) -> decompressor -> our header reader (layer-guard.ts) -> GNU tar
// then its whiteouts (whiteouts.ts). The next layer is fetched into a bounded buffer while one unpacks.
import { PassThrough, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { registryClient, resolveArtifact } from '../image-source.ts';
import type { ArtifactLayer, ResolvedArtifact } from '../oci/client.ts';
import { detectFormat, peek, type ImageFormat } from '../oci/format.ts';
import { StepError, type StepContext } from '../runner.ts';
import { formatBytes } from '../sizes.ts';
import { LayerGuard, WHITEOUT_PREFIX } from './layer-guard.ts';
import { tarCommand } from './rootfs.ts';
import { TarEntryReader, TarFormatError } from './tar-entries.ts';
import { applyWhiteouts } from './whiteouts.ts';

/**
 * How far the download of the next layer runs ahead of the unpack: its request, auth and first bytes are done
 * while the current layer unpacks. More buys nothing measurable on a fast link and costs memory past the install's
 * 150 MiB budget (bench: 32 MiB ahead peaked at 226 MiB RSS, 1 MiB at 152, 256 KiB at 148).
 */
export const PREFETCH_BYTES = 256 * 1024;
/** MiB to fetch ahead instead (0: each layer only when its turn comes; at most 256), where memory allows more. */
export const PREFETCH_ENV = 'SHOAL_LAYER_PREFETCH_MIB';

function prefetchBytes(): number {
  const mib = Number(process.env[PREFETCH_ENV]);
  return process.env[PREFETCH_ENV] !== undefined && Number.isFinite(mib) && mib >= 0 && mib <= 256 ? mib * 1024 * 1024 : PREFETCH_BYTES;
}

const DECOMPRESS: Record<Exclude<ImageFormat, 'wim' | 'tar'>, string[]> = {
  gzip: ['pigz', '-dc'],
  zstd: ['zstd', '-dc'],
  xz: ['xz', '-dc', '-T0'],
};

/** Config types of container images: their single layer is a layer too (whiteouts and all), not an oras file. */
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** A container image (layers, whiteouts), as opposed to a single-file artifact, which is unpacked as it always was. */
export const isLayeredImage = (r: ResolvedArtifact) => r.layers.length > 1 || IMAGE_CONFIG_TYPES.has(r.configMediaType);

/** GNU tar for one layer: whiteout files are ours to apply, never files on the disk. */
export const layerTarCommand = (root: string) => [...tarCommand(root), `--exclude=${WHITEOUT_PREFIX}*`];

/** `image sha256:... (linux/amd64): container image, 5 layers, 312 MiB`, for the log before anything is written. */
export function imageDescription(r: ResolvedArtifact): string {
  const total = r.layers.reduce((sum, l) => sum + l.size, 0);
  return `image ${r.manifestDigest}${r.platform ? ` (${r.platform} from the index)` : ''}: container image, ${r.layers.length} layer${r.layers.length === 1 ? '' : 's'}, ${formatBytes(total)}`;
}

export function describeLayers(): string[] {
  return [
    "for each layer, bottom first: GET layer (sha256 checked as it streams; the next layer's request and first 256 KiB made meanwhile)",
    `  | <pigz|zstd|xz> -dc | (entries checked: nothing through a symlink out of the target) | ${layerTarCommand('<root>').join(' ')}`,
    "  then the layer's whiteouts (.wh.NAME, .wh..wh..opq) removed within the target",
  ];
}

const isPipeError = (e: unknown) => ['EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/**
 * tar's stdin that never breaks the chain: once tar has read its end-of-archive and gone, the rest of the layer
 * is still read (and dropped) so that its sha256 is checked over every byte.
 */
function toTar(stdin: NodeJS.WritableStream & { destroyed: boolean }): Writable {
  let gone = false;
  stdin.on('error', () => (gone = true)); // tar's own exit status tells whether that was a failure
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (gone || stdin.destroyed) return done();
      if (stdin.write(chunk)) return done();
      const go = () => {
        stdin.off('drain', go);
        stdin.off('close', go);
        done();
      };
      stdin.on('drain', go);
      stdin.on('close', go);
    },
    final(done) {
      if (!gone && !stdin.destroyed) stdin.end();
      done();
    },
  });
}

/** Entries of the decompressed layer go past the guard, chunk by chunk, before tar gets them. */
function guarded(guard: LayerGuard): Transform {
  const reader = new TarEntryReader();
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        for (const entry of reader.push(chunk)) guard.see(entry);
        done(null, chunk);
      } catch (e) {
        done(e instanceof TarFormatError ? new StepError(`${guard.label}: ${e.message}`, 'the layer is damaged; push the image again') : (e as Error));
      }
    },
  });
}

async function unpackLayer(ctx: StepContext, root: string, stream: Readable, format: Exclude<ImageFormat, 'wim'>, guard: LayerGuard): Promise<void> {
  const tar = ctx.spawn(layerTarCommand(root), { stdinPipe: true });
  const decompressor = format === 'tar' ? undefined : ctx.spawn(DECOMPRESS[format], { stdinPipe: true, stdoutStream: true });
  const stop = () => {
    stream.destroy();
    tar.child.kill();
    decompressor?.child.kill();
  };
  const sink = toTar(tar.child.stdin!);
  const work: Promise<unknown>[] = decompressor
    ? [pipeline(stream, decompressor.child.stdin!), pipeline(decompressor.child.stdout!, guarded(guard), sink)]
    : [pipeline(stream, guarded(guard), sink)];
  for (const w of work) w.catch(stop);
  // A tar that fails (disk full) ends the download too.
  tar.done.catch(stop);
  const fed = await Promise.allSettled(work);
  const [untarred, decompressed] = await Promise.allSettled([tar.done, decompressor?.done]);
  const failed = fed.filter((r): r is PromiseRejectedResult => r.status === 'rejected').reverse();
  // Whose failure explains the others: our checks and the registry's bytes, then tar, then the decompressor.
  const ours = failed.find((r) => !isPipeError(r.reason));
  if (ours) throw ours.reason;
  if (untarred.status === 'rejected') throw untarred.reason;
  if (decompressed.status === 'rejected') throw decompressed.reason;
  const broken = failed[0];
  if (broken) throw broken.reason;
}

/** A layer's bytes, fetched ahead into a bounded buffer; its errors (a digest mismatch) reach the reader. */
function fetchAhead(ctx: StepContext, resolved: ResolvedArtifact, layer: ArtifactLayer, ahead: number, onBytes: (n: number) => void): Readable {
  const blob = registryClient(ctx).openBlob({ reference: resolved.reference, layer }, { signal: ctx.signal, onProgress: onBytes });
  // Held on the writable side, chunk by chunk: a readable side this large would hand its reader one huge
  // concatenated Buffer per read (measured: four times slower, and 400 MiB of memory).
  const buffer = new PassThrough({ writableHighWaterMark: Math.max(ahead, 64 * 1024), readableHighWaterMark: 64 * 1024 });
  pipeline(blob, buffer).catch(() => undefined); // the error is the buffer's, for whoever reads it
  return buffer;
}

export interface LayersApplied {
  layers: number;
  whiteoutsRemoved: number;
  replacedDirs: number;
}

/** Every layer of the image onto `root`, in order; `between` runs after each layer is down (and its whiteouts applied). */
export async function applyLayers(ctx: StepContext, root: string, between?: (index: number) => Promise<void>): Promise<LayersApplied> {
  const { resolved } = await resolveArtifact(ctx);
  const layers = resolved.layers;
  const total = layers.reduce((sum, l) => sum + l.size, 0);
  const meter = ctx.meter(total);
  const delivered = layers.map(() => 0);
  const count = (i: number) => (n: number) => {
    delivered[i] = n;
    meter.update(delivered.reduce((a, b) => a + b, 0));
  };
  const streams: Readable[] = [];
  const ahead = prefetchBytes();
  const open = (i: number) => (streams[i] ??= fetchAhead(ctx, resolved, layers[i]!, ahead, count(i)));
  const result: LayersApplied = { layers: layers.length, whiteoutsRemoved: 0, replacedDirs: 0 };
  try {
    for (const [i, layer] of layers.entries()) {
      const label = `layer ${i + 1} of ${layers.length}`;
      meter.setPhase(label);
      ctx.log(`${label}: ${layer.digest} ${formatBytes(layer.size)} ${layer.mediaType}`);
      const { head, stream } = await peek(open(i), 512);
      if (ahead > 0 && i + 1 < layers.length) open(i + 1);
      const format = detectFormat(layer, head);
      if (format === 'wim') throw new StepError(`${label} is a WIM image, not a tar layer`);
      const guard = new LayerGuard(root, label);
      await unpackLayer(ctx, root, stream, format, guard);
      const whiteouts = await applyWhiteouts(root, guard);
      result.whiteoutsRemoved += whiteouts.removed;
      result.replacedDirs += guard.replacedDirs.length;
      const notes = [
        guard.whiteouts.length || guard.opaque.length
          ? `${guard.whiteouts.length} whiteouts and ${guard.opaque.length} opaque directories: ${whiteouts.removed} paths of lower layers removed`
          : '',
        guard.replacedDirs.length
          ? `${guard.replacedDirs.length} directories replaced by files (${guard.replacedDirs
              .slice(0, 3)
              .map((p) => `/${p}`)
              .join(', ')})`
          : '',
        whiteouts.skipped.length ? `${whiteouts.skipped.length} whiteouts named nothing below` : '',
      ].filter(Boolean);
      ctx.log(`${label} unpacked${notes.length ? `; ${notes.join('; ')}` : ''}`);
      await between?.(i);
    }
  } finally {
    for (const s of streams) s.destroy();
  }
  return result;
}
