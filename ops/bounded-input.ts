/**
 * Reading what a job hands us (the recipe, its payloads, the `shoal.recipe=` URL) with limits, so that no input can
 * eat unbounded memory or hang: a regular file of at most INPUT_LIMIT bytes, or a URL body of at most INPUT_LIMIT
 * bytes that arrives within FETCH_TIMEOUT_MS. Anything else is bad input, named by field, source and limit.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { fetch } from 'undici';
import { shownUrl } from './report.ts';
import { formatBytes, MiB } from './sizes.ts';

/** README "Recipe": the most a recipe, a payload or a fetched recipe may hold. */
export const INPUT_LIMIT = 16 * MiB;
/** The whole fetch of one URL (connect, headers and body), not per chunk: a body that never ends must end. */
export const FETCH_TIMEOUT_MS = 60_000;

/** An input that cannot be read within the rules: bad input (exit 2), whoever asked for it. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

const READ_CHUNK = 64 * 1024;

function fileKind(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * A regular file's bytes, at most `limit`. Opened with O_NONBLOCK, so that a FIFO with no writer cannot block the
 * open, and checked with fstat on what was opened (no race with a rename). The read counts bytes instead of
 * trusting st_size, which /proc files and growing files get wrong.
 */
export async function readRegularFile(path: string, what: string, limit = INPUT_LIMIT): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`${what}: cannot read ${path} (${e.code ?? e.message})`);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new InputError(`${what}: ${path} is ${fileKind(st)}, not a regular file`);
    const tooBig = () => new InputError(`${what}: ${path} is larger than the limit of ${formatBytes(limit)}`);
    if (st.size > limit) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(READ_CHUNK);
      const { bytesRead } = await fh.read(chunk, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit) throw tooBig();
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}

export interface FetchOptions {
  limit?: number;
  timeoutMs?: number;
  /** The caller's own stop (SIGTERM): not reported as a timeout. */
  signal?: AbortSignal;
}

/** A URL's body (HTTP 200 only), at most `limit` bytes, all of it within `timeoutMs`. */
export async function fetchBody(url: string, what: string, opts: FetchOptions = {}): Promise<Buffer> {
  const limit = opts.limit ?? INPUT_LIMIT;
  const timeoutMs = opts.timeoutMs ?? FETCH_TIMEOUT_MS;
  const shown = shownUrl(url);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const tooBig = () => new InputError(`${what}: ${shown} sent more than the limit of ${formatBytes(limit)}`);
  const failed = (e: unknown): InputError => {
    if (e instanceof InputError) return e;
    if (opts.signal?.aborted) return new InputError(`${what}: fetching ${shown} was stopped`);
    if (timeout.aborted) return new InputError(`${what}: ${shown} did not send the whole answer within ${timeoutMs / 1000} s`);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return new InputError(`${what}: cannot fetch ${shown}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  };
  try {
    const res = await fetch(url, { signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new InputError(`${what}: ${shown} answered HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limit) {
      await res.body?.cancel();
      throw tooBig();
    }
    const chunks: Buffer[] = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        total += chunk.byteLength;
        if (total > limit) throw tooBig();
        chunks.push(Buffer.from(chunk));
      }
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw failed(e);
  }
}
