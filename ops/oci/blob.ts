import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { formatBytes } from '../sizes.ts';
import { Patience, formatDelay, pause, type RetryPolicy } from '../retry.ts';
import { RegistryError } from './errors.ts';
import { LowSpeedWatch, describeLowSpeed, type LowSpeedLimit } from './low-speed.ts';
import { retryLine, retrying, troubleOf } from './retrying.ts';
import { connectionError, errorDetail, responseError, type HttpResponse, type RegistryLog } from './transport.ts';

export interface BlobTarget {
  digest: string;
  size: number;
}

/** GETs the blob, authenticated, with a `Range` header when `range` is given. */
export type BlobFetcher = (range: string | undefined, signal: AbortSignal) => Promise<HttpResponse>;

/** Somewhere the blob can be fetched from: a mirror (pull-through cache) or the origin registry. */
export interface BlobSource {
  /** `HOST[:PORT]`, for messages. */
  host: string;
  mirror: boolean;
  fetch: BlobFetcher;
}

export interface BlobContext {
  /** Tried in order: the mirrors, then the origin. A mirror that fails in any way hands over to the next source. */
  sources: BlobSource[];
  target: BlobTarget;
  /** `host/repo@sha256:...`, for messages. */
  label: string;
  retry: RetryPolicy;
  lowSpeed: LowSpeedLimit;
  /** See realProgress. */
  progressBytes: number;
  log: RegistryLog;
  /** Told, once the whole blob is verified, which sources served it (the run record of README "What is reported"). */
  onServed?: (served: BlobServed) => void;
}

/** Which sources served a verified blob's bytes, in the order they served them, and each hand-over from one to the next. */
export interface BlobServed {
  digest: string;
  size: number;
  sources: { host: string; mirror: boolean; bytes: number }[];
  fallbacks: { from: string; to: string; atByte: number; reason: string }[];
}

export interface OpenBlobOptions {
  /** Bytes of the blob delivered so far, and the blob's size. */
  onProgress?: (bytesDone: number, total: number) => void;
  signal?: AbortSignal;
}

// Ranged reads are for headers and tables (a WIM header, its XML); a larger
// range is a caller bug that would pull a big chunk into memory.
export const MAX_RANGE_BYTES = 16 * 1024 * 1024;

const NOT_FOUND_HINT = 'the manifest names a blob the registry does not have; re-push the artifact';

/** Parses `bytes START-END/TOTAL`. */
function rangeStart(header: string | string[] | undefined): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(String(header ?? ''));
  return match ? Number(match[1]) : undefined;
}

/** Turns errors thrown while reading a body into RegistryErrors (a dropped connection is a retryable `network` error). */
function asRegistryError(err: unknown, ctx: BlobContext, source: BlobSource): unknown {
  if (err instanceof RegistryError) return err;
  // Socket, TLS and timeout errors carry a code; anything else is a bug and should surface as is.
  if (err instanceof Error && 'code' in err) return connectionError(err, source.mirror ? `mirror ${source.host}` : ctx.label, source.host);
  return err;
}

const sourceName = (source: BlobSource) => (source.mirror ? `mirror ${source.host}` : `the origin ${source.host}`);

/** `1.0 MiB from mirror cache:5000, 23.0 MiB from the origin controller:8080`: which source served the blob's bytes. */
function servedBy(served: Map<BlobSource, number>): string {
  return [...served].map(([source, bytes]) => `${formatBytes(bytes)} from ${sourceName(source)}`).join(', ');
}

/** The failure in a few words for the retry log line, which names the blob already. */
function retryReason(error: Error, label: string): string {
  if (error.cause) return errorDetail(error.cause);
  return error.message.startsWith(`${label}: `) ? error.message.slice(label.length + 2) : error.message;
}

/**
 * Bytes that count as real progress and give a pull its attempts back: a registry that resets every
 * connection after a byte must run out of them, a flaky link that drops every few MiB must not.
 */
export function realProgress(size: number, progressBytes: number): number {
  return Math.max(1, Math.min(progressBytes, Math.ceil(size / 10)));
}

/**
 * The blob's bytes pushed from the response body as they arrive: one `data` handler hashes, counts and hands each
 * chunk on, and pauses the body when the reader is full. Not an async generator under Readable.from, which adds
 * promise hand-offs per 64 KiB chunk: 4% of node's CPU in a pull (eight alternating pulls of 487 MiB into a pipe,
 * medians 1.24 and 1.19 CPU-s). What is left is SHA-256, the socket's reads and the pipe's writes.
 */
class BlobReader extends Readable {
  private readonly hash = createHash('sha256');
  /** Set while the body is paused for backpressure: resumes it once the reader wants more. */
  private demand: (() => void) | undefined;
  private started = false;
  /** Aborted when the stream is destroyed: a pending request or backoff ends at once, not after it. */
  private readonly cancel = new AbortController();
  private readonly signal: AbortSignal;
  private readonly onProgress: OpenBlobOptions['onProgress'];

  constructor(
    private readonly ctx: BlobContext,
    opts: OpenBlobOptions,
  ) {
    super();
    this.onProgress = opts.onProgress;
    this.signal = opts.signal ? AbortSignal.any([opts.signal, this.cancel.signal]) : this.cancel.signal;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.pull().then(
        () => this.push(null),
        (err: unknown) => this.destroy(err as Error),
      );
      return;
    }
    const resume = this.demand;
    this.demand = undefined;
    resume?.();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.cancel.abort();
    callback(err);
  }

  private async pull(): Promise<void> {
    const { ctx, signal } = this;
    const { target, label } = ctx;
    const patience = new Patience(ctx.retry);
    const enough = realProgress(target.size, ctx.progressBytes);
    const served = new Map<BlobSource, number>();
    const fallbacks: BlobServed['fallbacks'] = [];
    let current = 0;
    let done = 0;
    let sinceRefill = 0;
    for (;;) {
      const source = ctx.sources[current]!;
      const stalled = new AbortController();
      const watch = new LowSpeedWatch(ctx.lowSpeed, () => stalled.abort(new RegistryError('network', `${label}: transfer ${describeLowSpeed(ctx.lowSpeed)}`)));
      const attemptSignal = AbortSignal.any([signal, stalled.signal]);
      try {
        watch.waiting();
        const response = await source.fetch(done > 0 ? `bytes=${done}-` : undefined, attemptSignal);
        // Bytes the server resends that the consumer already has. Hashing goes
        // on from where it was: those bytes are skipped, never hashed twice, so
        // a server that ignores Range costs bandwidth but no restart of the hash.
        let skip = 0;
        if (response.statusCode === 200 && done > 0) {
          skip = done;
          ctx.log(`oci: ${label}: ${sourceName(source)} ignored the Range request; reading from byte 0 again and discarding the first ${done} bytes`);
        } else if (response.statusCode === 206 && done > 0) {
          const start = rangeStart(response.headers['content-range']);
          if (start !== done) {
            response.body.destroy();
            throw new RegistryError('unsupported', `${label}: asked for bytes from ${done} and the registry sent Content-Range "${String(response.headers['content-range'])}"`);
          }
        } else if (response.statusCode !== 200) {
          throw await responseError(response, label, NOT_FOUND_HINT);
        } else {
          const length = Number(response.headers['content-length'] ?? target.size);
          if (length !== target.size) {
            response.body.destroy();
            throw new RegistryError('digest-mismatch', `${label}: the registry serves ${length} bytes but the manifest says ${target.size}; the artifact is damaged, re-push it`);
          }
        }
        const body = response.body;
        const resumeBody = () => {
          watch.waiting();
          body.resume();
        };
        body.on('data', (chunk: Buffer) => {
          watch.arrived(chunk.length);
          let bytes = chunk;
          if (skip >= bytes.length) {
            skip -= bytes.length;
            watch.waiting();
            return;
          }
          bytes = bytes.subarray(skip);
          skip = 0;
          if (done + bytes.length > target.size) {
            body.destroy(new RegistryError('digest-mismatch', `${label}: the registry sent more than the ${target.size} bytes the manifest says`));
            return;
          }
          this.hash.update(bytes);
          done += bytes.length;
          sinceRefill += bytes.length;
          served.set(source, (served.get(source) ?? 0) + bytes.length);
          this.onProgress?.(done, target.size);
          if (this.push(bytes)) {
            watch.waiting();
          } else {
            // Until the reader asks again the time is the consumer's, not the registry's.
            body.pause();
            this.demand = resumeBody;
          }
        });
        try {
          await finished(body);
        } finally {
          this.demand = undefined;
        }
        if (done === target.size) break;
        throw new RegistryError('network', `the connection ended after ${done} of ${target.size} bytes`);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const error = (stalled.signal.aborted ? stalled.signal.reason : asRegistryError(err, ctx, source)) as Error;
        if (current < ctx.sources.length - 1 && error instanceof RegistryError) {
          // A mirror only ever makes a pull slower: whatever goes wrong there, the next source carries on.
          current++;
          const reason = retryReason(error, label);
          fallbacks.push({ from: source.host, to: ctx.sources[current]!.host, atByte: done, reason });
          ctx.log(`oci: ${label}: ${sourceName(source)}: ${reason}; falling back to ${sourceName(ctx.sources[current]!)} at byte ${done}`, 'warn');
          continue;
        }
        const trouble = troubleOf(error);
        if (!trouble) throw error;
        if (sinceRefill >= enough) {
          patience.refill();
          sinceRefill = 0;
        }
        const verdict = patience.next(trouble);
        if (!verdict.retry) {
          throw new RegistryError('network', `${label}: ${verdict.why} at ${done} of ${target.size} bytes: ${retryReason(error, label)}`, {
            cause: error,
          });
        }
        const reason = retryReason(error, label);
        const resume = `resuming at byte ${done} of ${target.size}`;
        const line = stalled.signal.aborted ? `${reason}: reconnecting, ${resume} in ${formatDelay(verdict.delayMs)}` : retryLine(trouble, reason, verdict.delayMs, resume);
        ctx.log(`oci: ${label}: ${line} (attempt ${verdict.attempt})`, 'warn');
        await pause(verdict.delayMs, signal);
      } finally {
        watch.stop();
      }
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== target.digest) {
      // Thrown before the stream ends, so it errors instead: a consumer such as tar must not take a damaged image
      // for a good one.
      const mirrored = [...served.keys()].some((s) => s.mirror);
      throw new RegistryError(
        'digest-mismatch',
        mirrored
          ? `${label}: the downloaded bytes (${servedBy(served)}) have digest ${actual}; the mirror's copy or the artifact is damaged, re-push it`
          : `${label}: the downloaded bytes have digest ${actual}; the artifact is damaged, re-push it`,
      );
    }
    if (ctx.sources.length > 1) ctx.log(`oci: ${label}: digest verified; ${servedBy(served)}`);
    ctx.onServed?.({
      digest: target.digest,
      size: target.size,
      sources: [...served].map(([source, bytes]) => ({ host: source.host, mirror: source.mirror, bytes })),
      fallbacks,
    });
  }
}

/**
 * The blob as a byte stream, verified on the fly, resumed with Range after a
 * dropped connection. Backpressure reaches the socket: nothing is buffered
 * beyond what the consumer has not read yet.
 */
export function openBlob(ctx: BlobContext, opts: OpenBlobOptions = {}): Readable {
  return new BlobReader(ctx, opts);
}

/** Collects `length` bytes after skipping `skip`, then drops the connection: a ranged read must not download the rest. */
async function take(response: HttpResponse, skip: number, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  for await (const chunk of response.body) {
    let bytes = chunk as Buffer;
    if (skip >= bytes.length) {
      skip -= bytes.length;
      continue;
    }
    bytes = bytes.subarray(skip, skip + length - have);
    skip = 0;
    chunks.push(bytes);
    have += bytes.length;
    if (have === length) break;
  }
  return Buffer.concat(chunks);
}

/** Bytes `start`..`endInclusive` of the blob. Not digest-verified: a part of a blob has no digest to check against. */
export async function readBlobRange(ctx: BlobContext, start: number, endInclusive: number, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
  const { label, target } = ctx;
  const length = endInclusive - start + 1;
  if (!Number.isSafeInteger(start) || start < 0 || endInclusive >= target.size || length < 1 || length > MAX_RANGE_BYTES) {
    throw new RangeError(`${label}: bytes ${start}-${endInclusive} are not a range of 1..${MAX_RANGE_BYTES} bytes inside the ${target.size}-byte blob`);
  }
  const signal = opts.signal ?? new AbortController().signal;
  const read = async (source: BlobSource) => {
    try {
      const response = await source.fetch(`bytes=${start}-${endInclusive}`, signal);
      let skip = 0;
      if (response.statusCode === 200) {
        skip = start;
      } else if (response.statusCode !== 206) {
        throw await responseError(response, label, NOT_FOUND_HINT);
      } else if (rangeStart(response.headers['content-range']) !== start) {
        response.body.destroy();
        throw new RegistryError('unsupported', `${label}: asked for bytes ${start}-${endInclusive}, got Content-Range "${String(response.headers['content-range'])}"`);
      }
      const bytes = await take(response, skip, length);
      if (bytes.length !== length) {
        throw new RegistryError('network', `${label}: the connection ended after ${bytes.length} of ${length} bytes of the range`);
      }
      return bytes;
    } catch (err) {
      throw signal.aborted ? signal.reason : asRegistryError(err, ctx, source);
    }
  };
  for (const mirror of ctx.sources.slice(0, -1)) {
    try {
      return await read(mirror);
    } catch (err) {
      if (signal.aborted || !(err instanceof RegistryError)) throw err;
      ctx.log(`oci: ${label}: ${sourceName(mirror)}: ${retryReason(err, label)}; reading the range from the next source`, 'warn');
    }
  }
  const origin = ctx.sources.at(-1)!;
  return retrying(() => read(origin), {
    policy: ctx.retry,
    signal,
    onRetry: (err, trouble, delay, attempt) =>
      ctx.log(`oci: ${label}: ${retryLine(trouble, retryReason(err, label), delay, 'retrying the ranged read')} (attempt ${attempt})`, 'warn'),
  });
}
