import type { Readable } from 'node:stream';
import { Authenticator } from './auth.ts';
import { openBlob, readBlobRange, type BlobContext, type BlobServed, type BlobSource, type BlobTarget, type OpenBlobOptions } from './blob.ts';
import { listRepositories, listTags } from './catalog.ts';
import { RegistryError } from './errors.ts';
import { MANIFEST_ACCEPT, resolveArtifact, type ResolvedArtifact } from './manifest.ts';
import { DIGEST_RE, formatReference, parseReference, parseRegistry, parseRepository, type ImageReference, type Repository } from './reference.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../retry.ts';
import { DEFAULT_LOW_SPEED, type LowSpeedLimit } from './low-speed.ts';
import { retryLine, retrying } from './retrying.ts';
import { Transport, responseError, type RegistryLog } from './transport.ts';

export { RegistryError, type RegistryErrorCode } from './errors.ts';
export type { BlobServed } from './blob.ts';
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
  /**
   * Pull-through caches (`HOST[:PORT]`) of the registries we pull from, tried in order before the origin for
   * manifests and blobs by digest. Tags are resolved at the origin when it answers; every byte is digest-verified.
   */
  mirrors?: string[];
  /** Told which sources served each blob pulled whole, once it is verified. */
  onBlobServed?: (served: BlobServed) => void;
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
  private readonly mirrors: readonly string[];
  private readonly log: RegistryLog;
  private readonly onBlobServed: RegistryClientOptions['onBlobServed'];

  constructor(opts: RegistryClientOptions = {}) {
    if ((opts.username === undefined) !== (opts.password === undefined)) {
      throw new RegistryError('unauthorized', 'a registry username needs a password and a password needs a username; give both or neither');
    }
    this.log = opts.log ?? (() => {});
    this.onBlobServed = opts.onBlobServed;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.lowSpeed = opts.lowSpeed ?? DEFAULT_LOW_SPEED;
    this.progressBytes = opts.progressBytes ?? DEFAULT_PROGRESS_BYTES;
    this.mirrors = (opts.mirrors ?? []).map((m) => parseRegistry(m));
    this.transport = new Transport({ plainHttp: opts.plainHttp, caFile: opts.caFile, log: this.log });
    const credentials = opts.username !== undefined && opts.password !== undefined ? { username: opts.username, password: opts.password } : undefined;
    this.auth = new Authenticator(this.transport, credentials, this.log);
  }

  /** Resolves `host[:port]/repo[:tag|@digest]` to the single layer of its artifact. */
  async resolve(ref: string | ImageReference, opts: { signal?: AbortSignal } = {}): Promise<ResolvedArtifact> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    if (!this.mirrors.length) return this.resolveAt(reference.registry, reference, opts.signal);
    let digest = reference.digest;
    if (!digest) {
      // The tag at the origin, so a stale mirror cannot hand out an old image under it.
      const atOrigin = await this.tagDigest(reference, opts.signal).catch((err: unknown) => {
        if (!(err instanceof RegistryError) || err.code !== 'network') throw err;
        this.log(
          `oci: ${formatReference(reference)}: the origin does not answer (${err.message}); resolving the tag at the mirrors, which may hold an older image under it`,
          'warn',
        );
        return undefined;
      });
      if (atOrigin && 'resolved' in atOrigin) return atOrigin.resolved;
      digest = atOrigin?.digest;
    }
    const byDigest = { ...reference, digest: digest ?? reference.digest };
    for (const mirror of this.mirrors) {
      try {
        const resolved = await this.resolveAt(mirror, byDigest, opts.signal, { ...this.retry, attempts: 1, busyPatienceMs: 0 });
        this.log(`oci: ${formatReference(byDigest)}: manifest ${resolved.manifestDigest} from mirror ${mirror}`);
        return { ...resolved, reference };
      } catch (err) {
        if (opts.signal?.aborted || !(err instanceof RegistryError)) throw err;
        this.log(`oci: ${formatReference(byDigest)}: mirror ${mirror}: ${err.message}; trying the next source`, 'warn');
      }
    }
    return this.resolveAt(reference.registry, byDigest, opts.signal).then((resolved) => ({ ...resolved, reference }));
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
    return this.withRetries(`listing the repositories of ${host}`, opts.signal, this.retry, () =>
      listRepositories((page) => this.auth.request(host, page, 'registry:catalog:*', { signal: opts.signal }), host, opts.pageSize ?? DEFAULT_PAGE_SIZE),
    );
  }

  /** All tags of `host[:port]/repo` (following Link pages). */
  async listTags(repository: string | Repository, opts: ListOptions = {}): Promise<string[]> {
    const repo = typeof repository === 'string' ? parseRepository(repository) : repository;
    const label = `${repo.registry}/${repo.repository}`;
    return this.withRetries(`listing the tags of ${label}`, opts.signal, this.retry, () =>
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

  /** `reference` resolved on `host` (the origin or a mirror of it), with that host's retries. */
  private resolveAt(host: string, reference: ImageReference, signal: AbortSignal | undefined, policy = this.retry): Promise<ResolvedArtifact> {
    const scope = `repository:${reference.repository}:pull`;
    const label = host === reference.registry ? formatReference(reference) : `${formatReference(reference)} at mirror ${host}`;
    return this.withRetries(`resolving ${label}`, signal, policy, () =>
      resolveArtifact(
        (tagOrDigest) => this.auth.request(host, `/v2/${reference.repository}/manifests/${tagOrDigest}`, scope, { headers: { accept: MANIFEST_ACCEPT }, signal }),
        reference,
      ),
    );
  }

  /**
   * The digest a tag names at the origin, from a HEAD (Docker-Content-Digest); a registry that does not say
   * gets a GET, and then the whole resolved artifact comes back, verified, with no need for a mirror.
   */
  private async tagDigest(reference: ImageReference, signal: AbortSignal | undefined): Promise<{ digest: string } | { resolved: ResolvedArtifact }> {
    const { registry, repository, tag = 'latest' } = reference;
    const digest = await this.withRetries(`resolving ${formatReference(reference)} at the origin`, signal, this.retry, async () => {
      const response = await this.auth.request(registry, `/v2/${repository}/manifests/${tag}`, `repository:${repository}:pull`, {
        method: 'HEAD',
        headers: { accept: MANIFEST_ACCEPT },
        signal,
      });
      await response.body.dump();
      const header = response.headers['docker-content-digest'];
      if (response.statusCode === 200) return typeof header === 'string' && DIGEST_RE.test(header) ? header : undefined;
      if (response.statusCode === 404 || response.statusCode === 401 || response.statusCode === 403 || response.statusCode >= 500 || response.statusCode === 429) {
        throw await responseError(response, formatReference(reference), 'check the repository and tag');
      }
      return undefined;
    });
    if (digest) {
      this.log(`oci: ${formatReference(reference)}: the origin resolves the tag to ${digest}`);
      return { digest };
    }
    return { resolved: await this.resolveAt(registry, reference, signal) };
  }

  private blobContext(location: BlobLocation): BlobContext {
    const { registry, repository } = location.reference;
    const { digest } = location.layer;
    if (!DIGEST_RE.test(digest)) {
      throw new RegistryError('bad-reference', `blob digest "${digest}" of ${registry}/${repository} is not sha256:<64 hex digits>`);
    }
    const source = (host: string): BlobSource => ({
      host,
      mirror: host !== registry,
      fetch: (range, signal) =>
        this.auth.request(host, `/v2/${repository}/blobs/${digest}`, `repository:${repository}:pull`, {
          headers: range ? { range } : {},
          signal,
        }),
    });
    return {
      sources: [...this.mirrors.filter((m) => m !== registry), registry].map(source),
      target: location.layer,
      label: `${registry}/${repository}@${digest}`,
      retry: this.retry,
      lowSpeed: this.lowSpeed,
      progressBytes: this.progressBytes,
      log: this.log,
      onServed: this.onBlobServed,
    };
  }

  private withRetries<T>(what: string, signal: AbortSignal | undefined, policy: RetryPolicy, op: () => Promise<T>): Promise<T> {
    return retrying(op, {
      policy,
      signal,
      onRetry: (err, trouble, delay, attempt) => this.log(`oci: ${what}: ${retryLine(trouble, err.message, delay)} (attempt ${attempt})`, 'warn'),
    });
  }
}
