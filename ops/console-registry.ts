/**
 * Registry browsing for the console: the OCI client (ops/oci/) seen as the Image screen needs it.
 * Errors the screen must act on (credentials wanted) get their own type; the rest carry the client's message.
 */
import { RegistryClient, RegistryError } from './oci/client.ts';
import { formatFromMetadata, type ImageFormat } from './oci/format.ts';
import { osFromLabels, readImageConfig } from './oci/image-config.ts';
import { formatReference } from './oci/reference.ts';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export type RegistryState = { state: 'ok' | 'auth' | 'down'; detail: string };

export interface ImageInfo {
  /** The full reference, as the recipe's oci_url will name it. */
  reference: string;
  manifestDigest: string;
  /** The platform the index offered for this machine (`linux/amd64`), when the reference names an index. */
  platform?: string;
  /** Bytes to pull: every layer together. */
  size: number;
  /** 1 for a single-file artifact. */
  layers: number;
  /** The OS as the image config's labels name it (`Debian 12`), before anything is pulled. */
  osName?: string;
  /** The first layer's media type and file name. */
  mediaType: string;
  artifactType?: string;
  title?: string;
  os: 'linux' | 'windows' | 'unknown';
  /** gzip, zstd, xz, tar, wim; undefined when only the first bytes will tell. */
  format?: string;
}

/** The registry answered 401: ask the technician for credentials and try again. */
export class RegistryAuthRequired extends Error {
  override name = 'RegistryAuthRequired';
}

export interface RegistryBrowser {
  ping(): Promise<RegistryState>;
  repositories(): Promise<string[]>;
  tags(repository: string): Promise<string[]>;
  inspect(reference: string): Promise<ImageInfo>;
  close(): Promise<void>;
}

export interface BrowserOptions {
  plainHttp?: string[];
  credentials?: RegistryCredentials;
  caFile?: string;
}

/** The technician is waiting: two tries, not the install's fifteen seconds of patience. */
// A technician is waiting at the screen: a busy registry gets seconds here, not the install's half hour.
const BROWSE_RETRY = { attempts: 2, baseDelayMs: 300, maxDelayMs: 1000, busyPatienceMs: 10_000 };

const isWimType = (t: string | undefined) => !!t && /wim|windows/i.test(t);
const isRootfsType = (t: string | undefined) => !!t && /rootfs|linux/i.test(t);

/** Linux or Windows, from the artifact type, then the layer's media type and file name. */
export function osOf(artifactType: string | undefined, layer: { mediaType: string; title?: string }): { os: ImageInfo['os']; format?: ImageFormat } {
  const format = formatFromMetadata(layer);
  if (format === 'wim' || isWimType(artifactType)) return { os: 'windows', format: format ?? 'wim' };
  if (format || isRootfsType(artifactType)) return { os: 'linux', format };
  return { os: 'unknown' };
}

function translate(e: unknown, credentials: RegistryCredentials | undefined, host: string): Error {
  if (e instanceof RegistryError && e.code === 'unauthorized') {
    return new RegistryAuthRequired(credentials ? e.message : `registry ${host} wants a username and password (HTTP 401)`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

export function openRegistry(host: string, opts: BrowserOptions = {}): RegistryBrowser {
  const make = (attempts?: number) =>
    new RegistryClient({
      plainHttp: opts.plainHttp,
      caFile: opts.caFile,
      username: opts.credentials?.username,
      password: opts.credentials?.password,
      retry: attempts ? { ...BROWSE_RETRY, attempts } : BROWSE_RETRY,
    });
  const client = make();
  const guard = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (e) {
      throw translate(e, opts.credentials, host);
    }
  };
  return {
    async ping() {
      const probe = make(1);
      try {
        const repos = await probe.listRepositories(host);
        return { state: 'ok', detail: `answers (${repos.length} repositor${repos.length === 1 ? 'y' : 'ies'})` };
      } catch (e) {
        if (e instanceof RegistryError && e.code === 'unauthorized') {
          return { state: 'auth', detail: opts.credentials ? `refuses the credentials: ${e.message}` : 'answers, and wants a username and password' };
        }
        if (e instanceof RegistryError && (e.code === 'not-found' || e.code === 'unsupported')) return { state: 'ok', detail: 'answers (no catalog: type references)' };
        return { state: 'down', detail: `does not answer: ${(e as Error).message}` };
      } finally {
        await probe.close().catch(() => undefined);
      }
    },
    repositories: () => guard(() => client.listRepositories(host)),
    tags: (repository) => guard(() => client.listTags(`${host}/${repository}`)),
    inspect: (reference) =>
      guard(async () => {
        const r = await client.resolve(reference);
        const config = await readImageConfig((location, start, end) => client.readBlobRange(location, start, end), r);
        const kind = osOf(r.artifactType, r.layer);
        return {
          reference: formatReference(r.reference),
          manifestDigest: r.manifestDigest,
          ...(r.platform ? { platform: r.platform } : {}),
          size: r.layers.reduce((sum, l) => sum + l.size, 0),
          layers: r.layers.length,
          ...(config && osFromLabels(config.labels) ? { osName: osFromLabels(config.labels) } : {}),
          mediaType: r.layer.mediaType,
          artifactType: r.artifactType,
          title: r.layer.title,
          ...(config?.os === 'linux' && kind.os === 'unknown' ? { os: 'linux' as const } : kind),
        };
      }),
    close: () => client.close(),
  };
}
