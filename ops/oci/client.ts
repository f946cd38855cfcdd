import type { Readable } from 'node:stream';
import { Authenticator } from './auth.ts';
import { openBlob, readBlobRange, type BlobContext, type BlobTarget, type OpenBlobOptions } from './blob.ts';
import { listRepositories, listTags } from './catalog.ts';
import { RegistryError } from './errors.ts';
import { MANIFEST_ACCEPT, resolveArtifact, type ResolvedArtifact } from './manifest.ts';
import { DIGEST_RE, formatReference, parseReference, parseRegistry, parseRepository, type ImageReference, type Repository } from './reference.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../retry.ts';
import { DEFAULT_LOW_SPEED, type LowSpeedLimit } from './low-speed.ts';
import { retryLine, retrying } from './retrying.ts';
import { Transport, type RegistryLog } from './transport.ts';

export { RegistryError, type RegistryErrorCode } from './errors.ts';
export type { ResolvedArtifact, ArtifactLayer } from './manifest.ts';
export type { ImageReference, Repository } from './reference.ts';
export type { RetryPolicy } from '../retry.ts';
export { DEFAULT_LOW_SPEED, type LowSpeedLimit } from './low-speed.ts';

/** Real progress that gives a blob pull its attempts back (or a tenth of the blob, if less); see realProgress. */
export const DEFAULT_PROGRESS_BYTES = 8 * 1024 * 1024;

export interface RegistryClientOptions {
  /** Registries spoken to in plain HTTP: `HOST` or `HOST:PORT` (loopback registries may be plain HTTP anyway). */
  plainHttp?: string[];
  /** PEM CA certificate for registries with a private CA. */
  caFile?: string;
  username?: string;
  password?: string;
  /** Receives one line per notable event (auth scheme, retries, resumes, stalls); never secrets. */
  log?: RegistryLog;
  retry?: Partial<RetryPolicy>;
  /** A blob transfer slower than this is stalled and reconnected (curl's --speed-limit/--speed-time). */
  lowSpeed?: LowSpeedLimit;
  progressBytes?: number;
}

/** Where a blob lives and what it must be; a ResolvedArtifact is one. */
export interface BlobLocation {
  reference: Repository;
  layer: BlobTarget;
}

export interface ListOptions {
  /** Entries asked per request (`n`); the registry may return fewer and link to the next page. */
  pageSize?: number;
  signal?: AbortSignal;
}

const DEFAULT_PAGE_SIZE = 1000;

/** The registry client of the installer: resolve a reference, stream its one blob, list what a registry holds. */
export class RegistryClient {
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly retry: RetryPolicy;
  private readonly lowSpeed: LowSpeedLimit;
  private readonly progressBytes: number;
  private readonly log: RegistryLog;

  constructor(opts: RegistryClientOptions = {}) {
    if ((opts.username === undefined) !== (opts.password === undefined)) {
      throw new RegistryError('unauthorized', 'a registry username needs a password and a password needs a username; give both or neither');
    }
    this.log = opts.log ?? (() => {});
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.lowSpeed = opts.lowSpeed ?? DEFAULT_LOW_SPEED;
    this.progressBytes = opts.progressBytes ?? DEFAULT_PROGRESS_BYTES;
    this.transport = new Transport({ plainHttp: opts.plainHttp, caFile: opts.caFile, log: this.log });
    const credentials =
      opts.username !== undefined && opts.password !== undefined
        ? { username: opts.username, password: opts.password }
        : undefined;
    this.auth = new Authenticator(this.transport, credentials, this.log);
  }

  /** Resolves `host[:port]/repo[:tag|@digest]` to the single layer of its artifact. */
  async resolve(ref: string | ImageReference, opts: { signal?: AbortSignal } = {}): Promise<ResolvedArtifact> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const scope = `repository:${reference.repository}:pull`;
    return this.withRetries(`resolving ${formatReference(reference)}`, opts.signal, () =>
      resolveArtifact(
        (tagOrDigest) =>
          this.auth.request(reference.registry, `/v2/${reference.repository}/manifests/${tagOrDigest}`, scope, {
            headers: { accept: MANIFEST_ACCEPT },
            signal: opts.signal,
          }),
        reference,
      ),
    );
  }

  /** The blob's bytes, sha256-verified as they pass (a mismatch errors the stream) and resumed after dropped connections. */
  openBlob(location: BlobLocation, opts: OpenBlobOptions = {}): Readable {
    return openBlob(this.blobContext(location), opts);
  }

  /** Bytes `start`..`endInclusive` of a blob (at most 16 MiB), e.g. a WIM header, without downloading the rest. */
  async readBlobRange(location: BlobLocation, start: number, endInclusive: number, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    return readBlobRange(this.blobContext(location), start, endInclusive, opts);
  }

  /** All repositories of a registry (`/v2/_catalog`, following Link pages). */
  async listRepositories(registry: string, opts: ListOptions = {}): Promise<string[]> {
    const host = parseRegistry(registry);
    return this.withRetries(`listing the repositories of ${host}`, opts.signal, () =>
      listRepositories(
        (page) => this.auth.request(host, page, 'registry:catalog:*', { signal: opts.signal }),
        host,
        opts.pageSize ?? DEFAULT_PAGE_SIZE,
      ),
    );
  }

  /** All tags of `host[:port]/repo` (following Link pages). */
  async listTags(repository: string | Repository, opts: ListOptions = {}): Promise<string[]> {
    const repo = typeof repository === 'string' ? parseRepository(repository) : repository;
    const label = `${repo.registry}/${repo.repository}`;
    return this.withRetries(`listing the tags of ${label}`, opts.signal, () =>
      listTags(
        (page) => this.auth.request(repo.registry, page, `repository:${repo.repository}:pull`, { signal: opts.signal }),
        label,
        repo.repository,
        opts.pageSize ?? DEFAULT_PAGE_SIZE,
      ),
    );
  }

  /** Closes pooled connections; pending streams fail. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  private blobContext(location: BlobLocation): BlobContext {
    const { registry, repository } = location.reference;
    const { digest } = location.layer;
    if (!DIGEST_RE.test(digest)) {
      throw new RegistryError('bad-reference', `blob digest "${digest}" of ${registry}/${repository} is not sha256:<64 hex digits>`);
    }
    return {
      fetch: (range, signal) =>
        this.auth.request(registry, `/v2/${repository}/blobs/${digest}`, `repository:${repository}:pull`, {
          headers: range ? { range } : {},
          signal,
        }),
      target: location.layer,
      label: `${registry}/${repository}@${digest}`,
      registry,
      retry: this.retry,
      lowSpeed: this.lowSpeed,
      progressBytes: this.progressBytes,
      log: this.log,
    };
  }

  private withRetries<T>(what: string, signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> {
    return retrying(op, {
      policy: this.retry,
      signal,
      onRetry: (err, trouble, delay, attempt) => this.log(`oci: ${what}: ${retryLine(trouble, err.message, delay)} (attempt ${attempt})`, 'warn'),
    });
  }
}
