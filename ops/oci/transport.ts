import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { busyAnswer } from '../retry.ts';
import { RegistryError } from './errors.ts';

export type HttpResponse = Dispatcher.ResponseData;

export interface HttpInit {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One line per notable event (auth scheme, retries, resumes, stalls); `warn` for trouble the operator should see. Never secrets. */
export type RegistryLog = (line: string, level?: 'info' | 'warn') => void;

export interface TransportOptions {
  /** Registries spoken to in plain HTTP: `HOST` (any port) or `HOST:PORT`, as with oras `--plain-http`. */
  plainHttp?: string[];
  /** PEM file with the CA that signed the registry's certificate, trusted in addition to the system CAs. */
  caFile?: string;
  log?: RegistryLog;
}

// Registries are on the LAN; a registry that goes silent this long is gone,
// and the blob reader resumes from where it stopped.
const HEADERS_TIMEOUT_MS = 30_000;
const BODY_TIMEOUT_MS = 60_000;
// Registries backed by object storage answer blob GETs with a redirect.
const MAX_REDIRECTIONS = 5;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Splits `host`, `host:port`, `[v6]:port` or a bare IPv6 address. The host comes back without brackets, lowercased. */
export function splitHostPort(hostPort: string): { host: string; port?: string } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (bracketed) return { host: bracketed[1]!.toLowerCase(), port: bracketed[2] };
  if (isIP(hostPort) === 6) return { host: hostPort.toLowerCase() };
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) return { host: hostPort.toLowerCase() };
  return { host: hostPort.slice(0, colon).toLowerCase(), port: hostPort.slice(colon + 1) };
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && loopback.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * How to reach a registry. Listed registries are plain HTTP. Loopback ones
 * may be either (a test or local registry), so they are tried in HTTPS first
 * and fall back to HTTP only when the server answers in cleartext -- never
 * when it speaks TLS with a certificate we cannot verify. Everything else is
 * HTTPS only, so credentials never cross the network in clear by accident.
 */
export function schemePolicy(registry: string, plainHttp: readonly string[]): 'http' | 'https' | 'https-then-http' {
  const target = splitHostPort(registry);
  const listed = plainHttp.some((entry) => {
    const allowed = splitHostPort(entry);
    return allowed.host === target.host && (allowed.port === undefined || allowed.port === target.port);
  });
  if (listed) return 'http';
  return isLoopbackHost(target.host) ? 'https-then-http' : 'https';
}

function validatePlainHttpEntry(entry: string): void {
  if (!/^(\[[0-9a-fA-F:]+\]|[^\s/:[\]@]+)(:\d{1,5})?$/.test(entry) && isIP(entry) !== 6) {
    throw new RegistryError('bad-reference', `plainHttp entry "${entry}" must be HOST or HOST:PORT (no scheme, no path)`);
  }
}

function readCaFile(caFile: string): string {
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new RegistryError('tls', `cannot read the CA file ${caFile}: ${(err as Error).message}`, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new RegistryError('tls', `the CA file ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

/** Walks the `cause` chain: undici wraps socket and TLS errors, and the useful `code` sits underneath. */
function rootCause(err: unknown): { code?: string; message: string } {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    const next: unknown = current.cause;
    if (!(next instanceof Error) || (code !== undefined && !code.startsWith('UND_ERR'))) {
      return { code, message: current.message };
    }
    current = next;
  }
  return { message: String(current) };
}

const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The TLS handshake read an HTTP answer: the server speaks cleartext. */
function answeredInCleartext(err: unknown): boolean {
  const { code, message } = rootCause(err);
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(message);
}

/** `CODE: message` of the failure underneath, short enough for a retry log line. */
export function errorDetail(err: unknown): string {
  const { code, message } = rootCause(err);
  return code ? `${code}: ${message}` : message;
}

/** Maps a socket, TLS or timeout failure to a RegistryError; `where` names the registry or URL for the message. */
export function connectionError(err: unknown, where: string, registry: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const { code } = rootCause(err);
  const detail = errorDetail(err);
  if (answeredInCleartext(err)) {
    return new RegistryError('tls', `${where} answered in plain HTTP, not TLS; if ${registry} is a plain-HTTP registry, list "${registry}" in plainHttp`, { cause: err });
  }
  if (code !== undefined && (CERT_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return new RegistryError('tls', `TLS with ${where} failed (${detail}); give the CA certificate that signed the registry's certificate as caFile`, { cause: err });
  }
  return new RegistryError('network', `cannot talk to ${where} (${detail}); check the address and that the registry is running and reachable`, { cause: err });
}

/** HTTP(S) to registries through one undici Agent: connection reuse, the custom CA, the plain-HTTP policy. */
export class Transport {
  private readonly plainHttp: readonly string[];
  private readonly agent: Agent;
  private readonly dispatcher: Dispatcher;
  private readonly log: RegistryLog;
  /** Which scheme a loopback registry turned out to speak, so the probe happens once. */
  private readonly settled = new Map<string, 'http' | 'https'>();

  constructor(opts: TransportOptions = {}) {
    this.plainHttp = opts.plainHttp ?? [];
    this.plainHttp.forEach(validatePlainHttpEntry);
    this.log = opts.log ?? (() => {});
    // A `ca` option replaces Node's trust store; keep the public roots so a
    // custom CA file does not break registries with ordinary certificates.
    const ca = opts.caFile ? [...rootCertificates, readCaFile(opts.caFile)] : undefined;
    this.agent = new Agent({
      connect: ca ? { ca } : {},
      headersTimeout: HEADERS_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
    });
    // The redirect interceptor drops Authorization when the origin changes.
    this.dispatcher = this.agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
  }

  /** May this host be spoken to in cleartext? (Also guards token realms the registry points us to.) */
  allowsPlainHttp(hostPort: string): boolean {
    return schemePolicy(hostPort, this.plainHttp) !== 'https';
  }

  /** A request to `path` (starting with /v2/) on a registry, choosing the scheme by policy. */
  async request(registry: string, path: string, init: HttpInit = {}): Promise<HttpResponse> {
    const policy = this.settled.get(registry) ?? schemePolicy(registry, this.plainHttp);
    if (policy !== 'https-then-http') return this.send(new URL(`${policy}://${registry}${path}`), registry, init);
    try {
      const response = await this.send(new URL(`https://${registry}${path}`), registry, init);
      this.settled.set(registry, 'https');
      return response;
    } catch (err) {
      if (!(err instanceof RegistryError) || !answeredInCleartext(err.cause)) throw err;
      this.log(`oci: ${registry} is loopback and answers in plain HTTP; using http://`);
      this.settled.set(registry, 'http');
      return this.send(new URL(`http://${registry}${path}`), registry, init);
    }
  }

  /** A request to an absolute URL the registry handed us (a token realm); cleartext only where the policy allows it. */
  async requestUrl(url: URL, registry: string, init: HttpInit = {}): Promise<HttpResponse> {
    if (url.protocol === 'http:' && !this.allowsPlainHttp(url.host)) {
      throw new RegistryError(
        'unsupported',
        `${registry} sends us to ${url.origin} in plain HTTP; refusing to send credentials in clear (list "${url.host}" in plainHttp to allow it)`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RegistryError('unsupported', `${registry} sends us to ${url.origin}, which is not an HTTP(S) URL`);
    }
    return this.send(url, registry, init);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(url: URL, registry: string, init: HttpInit): Promise<HttpResponse> {
    try {
      return await request(url, {
        dispatcher: this.dispatcher,
        method: init.method ?? 'GET',
        headers: { 'user-agent': 'shoal-install', ...init.headers },
        signal: init.signal,
      });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw connectionError(err, url.origin, registry);
    }
  }
}

// A JSON answer (a manifest, a token, a page of tags) is a few KiB to a few MiB: a registry that takes longer than
// this to send one is trickling, which no socket timeout notices as long as a byte comes now and then.
export const SMALL_BODY_DEADLINE_MS = 60_000;

/**
 * Reads a small response body; `limit` guards against a server streaming something huge where JSON was expected,
 * `deadlineMs` against one sending it forever (a retryable `network` error, so the retry budget bounds it).
 */
export async function readSmallBody(response: HttpResponse, limit: number, what: string, deadlineMs = SMALL_BODY_DEADLINE_MS): Promise<Buffer> {
  const timer = setTimeout(
    () => response.body.destroy(new RegistryError('network', `${what} was not received within ${deadlineMs / 1000} s; the registry is trickling it`)),
    deadlineMs,
  );
  try {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.body) {
      length += (chunk as Buffer).length;
      if (length > limit) {
        response.body.destroy();
        throw new RegistryError('unsupported', `${what} is larger than ${limit} bytes; this is not a registry answer`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  } finally {
    clearTimeout(timer);
  }
}

/** Maps an unexpected HTTP status to a RegistryError, quoting the registry's own error codes (OCI distribution error body). */
export async function responseError(response: HttpResponse, what: string, notFoundHint = ''): Promise<RegistryError> {
  let detail = '';
  try {
    const body = JSON.parse((await readSmallBody(response, 64 * 1024, 'error body')).toString('utf8')) as {
      errors?: { code?: string; message?: string }[];
    };
    detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    response.body.destroy();
  }
  const status = `HTTP ${response.statusCode}${detail ? `, ${detail}` : ''}`;
  switch (response.statusCode) {
    case 404:
      return new RegistryError('not-found', `${what}: not found (${status})${notFoundHint ? `; ${notFoundHint}` : ''}`);
    case 401:
    case 403:
      return new RegistryError('unauthorized', `${what}: access denied (${status}); check that the registry user may pull it`);
    case 408:
    case 429:
      return new RegistryError('network', `${what}: the registry is busy (${status}); retry later`, {
        busy: busyAnswer(response.statusCode, response.headers),
      });
    default:
      if (response.statusCode >= 500) {
        return new RegistryError('network', `${what}: registry error (${status}); it may be restarting, retry later`, {
          busy: busyAnswer(response.statusCode, response.headers),
        });
      }
      return new RegistryError('unsupported', `${what}: unexpected answer from the registry (${status})`);
  }
}
