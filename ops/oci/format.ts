import { Readable } from 'node:stream';
import { RegistryError } from './errors.ts';

export type ImageFormat = 'tar' | 'gzip' | 'zstd' | 'xz' | 'wim';

/** Enough leading bytes to see every magic below (ustar sits at offset 257). */
export const FORMAT_SNIFF_BYTES = 262;

// oras stamps this media type on every file pushed without an explicit type,
// whatever the file is; it says nothing about compression.
const ORAS_DEFAULT_TYPE = 'application/vnd.oci.image.layer.v1.tar';

function normalize(mediaType: string): string {
  return mediaType.split(';')[0]!.trim().toLowerCase();
}

function fromMediaType(mediaType: string): ImageFormat | undefined {
  const type = normalize(mediaType);
  if (type === ORAS_DEFAULT_TYPE) return undefined;
  if (/[+.](gzip|gz|tgz)$/.test(type) || type === 'application/gzip' || type === 'application/x-gzip') return 'gzip';
  if (/[+.](zstd|zst|tzst)$/.test(type) || type === 'application/zstd') return 'zstd';
  if (/[+.](xz|txz)$/.test(type) || type === 'application/x-xz') return 'xz';
  if (/[+.](wim|esd)$/.test(type) || type === 'application/x-ms-wim') return 'wim';
  if (/[+.]tar$/.test(type) || type === 'application/x-tar') return 'tar';
  return undefined;
}

function fromTitle(title: string | undefined): ImageFormat | undefined {
  const name = title?.toLowerCase() ?? '';
  if (/\.(gz|tgz)$/.test(name)) return 'gzip';
  if (/\.(zst|zstd|tzst)$/.test(name)) return 'zstd';
  if (/\.(xz|txz)$/.test(name)) return 'xz';
  if (/\.(wim|esd)$/.test(name)) return 'wim';
  if (/\.tar$/.test(name)) return 'tar';
  return undefined;
}

function startsWith(bytes: Uint8Array, magic: number[], offset = 0): boolean {
  return bytes.length >= offset + magic.length && magic.every((b, i) => bytes[offset + i] === b);
}

function fromMagic(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(bytes, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(bytes, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(bytes, [0x4d, 0x53, 0x57, 0x49, 0x4d, 0x00, 0x00, 0x00])) return 'wim'; // "MSWIM\0\0\0"
  if (startsWith(bytes, [0x57, 0x4c, 0x50, 0x57, 0x4d, 0x00, 0x00, 0x00])) return 'wim'; // "WLPWM\0\0\0", a pipable WIM
  if (startsWith(bytes, [0x75, 0x73, 0x74, 0x61, 0x72], 257)) return 'tar'; // "ustar" (POSIX and GNU)
  return undefined;
}

/** The format the layer's labels declare -- media type, then the title's extension -- if they declare one. */
export function formatFromMetadata(layer: { mediaType: string; title?: string }): ImageFormat | undefined {
  return fromMediaType(layer.mediaType) ?? fromTitle(layer.title);
}

/**
 * How to unpack a layer: its labels first (the Shoal contract's order), then
 * the magic of its first bytes, and for an unlabelled file under the oras
 * default type that shows no magic (an old v7 tar), tar as that type says.
 */
export function detectFormat(layer: { mediaType: string; title?: string }, firstBytes: Uint8Array): ImageFormat {
  const format = formatFromMetadata(layer) ?? fromMagic(firstBytes) ?? (normalize(layer.mediaType) === ORAS_DEFAULT_TYPE ? 'tar' : undefined);
  if (!format) {
    throw new RegistryError(
      'unsupported',
      `cannot tell the format of layer "${layer.title ?? '(no title)'}" (${layer.mediaType}): it is not tar, gzip, zstd, xz or WIM by media type, name or content`,
    );
  }
  return format;
}

/**
 * Reads the first `n` bytes of a stream (fewer if it ends sooner) and hands
 * back a stream that still yields every byte, those included: the source
 * itself, with the bytes read put back (unshift), so that its errors (a digest
 * mismatch at its end) and its destruction are the consumer's, and no layer
 * of copying sits between the two for the rest of the bytes.
 */
export function peek(source: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    // A layer fetched ahead may have failed (its digest, a 404) before its turn: no event will come any more.
    if (source.errored) return reject(source.errored);
    if (source.destroyed) return reject(new Error('the stream was closed before its first bytes were read'));
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.pause();
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < n) return;
      stop();
      const head = Buffer.concat(chunks);
      source.unshift(head);
      resolve({ head: head.subarray(0, n), stream: source });
    };
    const onEnd = () => {
      stop();
      const head = Buffer.concat(chunks);
      resolve({ head, stream: Readable.from(head.length ? [head] : [], { objectMode: false }) });
    };
    source.on('data', onData);
    source.once('end', onEnd);
    // Left attached: an error between this and the consumer's pipeline (a cancel) must not go unheard and crash the
    // process; the pipeline still sees it, from the stream's errored state. A reject after the resolve does nothing.
    source.on('error', reject);
  });
}
