/**
 * A real OCI registry for tests: Debian's docker-registry (CNCF distribution
 * 2.8) on a free 127.0.0.1 port, storage in a temp dir, optionally with basic
 * auth (htpasswd), token auth (a tiny in-process JWT issuer) or TLS (a
 * throwaway CA). Artifacts are pushed the way oras lays them out, through an
 * OCI layout dir and skopeo, so the bytes in the registry are exactly ours.
 *
 * Lifecycle: `stop()` is the final cleanup (process and temp dir); `kill()`
 * and `restart()` take the registry down and up on the same port and storage
 * for fault tests. A process-exit hook kills and removes whatever a crashed
 * test left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hasTool } from './env.ts';
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';

export interface RegistryAuth {
  username: string;
  password: string;
  /** `basic` (htpasswd, the default) or `token` (bearer tokens from an issuer the helper runs). */
  type?: 'basic' | 'token';
}

export interface StartRegistryOptions {
  auth?: RegistryAuth;
  tls?: boolean;
  /** A pull-through cache of the registry at this URL (distribution's `proxy.remoteurl`). */
  proxyOf?: string;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as an image reference names it. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://...`. */
  url: string;
  /** The CA that signed the registry's certificate (TLS only). */
  caFile?: string;
  auth?: RegistryAuth;
  /** Temp dir holding config, storage, certificates and registry.log. */
  dir: string;
  /** The registry's storage root (`docker/registry/v2/...` below it). */
  storageDir: string;
  /** Token requests the issuer answered (token auth only). */
  readonly tokenRequests: number;
  /** Kills the registry process; storage and port stay for restart(). */
  kill(): Promise<void>;
  /** Starts the registry again on the same port and storage (killing it first if it runs). */
  restart(): Promise<void>;
  /** Final cleanup: kills the registry and the token issuer, removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PushOptions {
  /** The layer's media type. */
  mediaType: string;
  artifactType: string;
  /** The file name (annotation org.opencontainers.image.title). */
  title?: string;
}

export interface PushedArtifact {
  /** The layer's digest. */
  digest: string;
  size: number;
  manifestDigest: string;
}

export const REGISTRY_TOOLS = ['docker-registry', 'skopeo', 'htpasswd', 'openssl'];

/** Why registry tests cannot run here (a tool missing), or undefined. No root needed: the registry listens on a high port. */
export function missingRegistryTools(tools: string[] = REGISTRY_TOOLS): string | undefined {
  const missing = tools.filter((tool) => !hasTool(tool));
  return missing.length ? `needs ${missing.join(', ')} (apt-get install docker-registry skopeo apache2-utils openssl)` : undefined;
}

const EMPTY_CONFIG = Buffer.from('{}');
const TOKEN_ISSUER = 'shoal-test-issuer';
const TOKEN_SERVICE = 'shoal-test-registry';
const READY_TIMEOUT_MS = 15_000;

/** Everything still running or on disk, for the exit hooks. */
const live = new Set<{ child?: ChildProcess; dir: string; issuer?: Server }>();
let hooked = false;

/** A test run that crashes, calls process.exit or is interrupted still leaves no registry and no temp dir behind. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const cleanup = () => {
    for (const entry of live) {
      entry.child?.kill('SIGKILL');
      rmSync(entry.dir, { recursive: true, force: true });
    }
    live.clear();
  };
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      // Our listener is gone now: the signal's default action ends the process as it would have.
      process.kill(process.pid, signal);
    });
  }
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** A throwaway CA and a server certificate for 127.0.0.1 (SAN IP, which Go and Node check) signed by it. */
async function makeTlsFiles(dir: string): Promise<{ caFile: string; cert: string; key: string }> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execa('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=shoal test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await execa('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  await execa('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('server.ext'),
  ]);
  return { caFile: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * The token service of distribution's token auth: checks basic credentials,
 * grants the requested scopes to a valid user (none to anonymous), and signs
 * an RS256 JWT whose x5c header carries the certificate the registry trusts
 * (its rootcertbundle).
 */
async function startTokenIssuer(dir: string, auth: RegistryAuth, counter: { requests: number }) {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=shoal test token issuer']);
  const key: KeyObject = createPrivateKey(await readFile(keyFile));
  const certDer = new X509Certificate(await readFile(certFile)).raw.toString('base64');
  const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    counter.requests++;
    const presented = req.headers.authorization;
    if (presented !== undefined && presented !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"invalid credentials"}');
      return;
    }
    const access =
      presented === undefined
        ? []
        : url.searchParams
            .getAll('scope')
            .flatMap((s) => s.split(' '))
            .map((scope) => {
              const parts = scope.split(':');
              return { type: parts[0], name: parts.slice(1, -1).join(':'), actions: (parts.at(-1) ?? '').split(',') };
            });
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: TOKEN_ISSUER,
      sub: presented ? auth.username : '',
      aud: url.searchParams.get('service') ?? TOKEN_SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url({ typ: 'JWT', alg: 'RS256', x5c: [certDer] })}.${b64url(claims)}`;
    const token = `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, certFile, realm: `http://127.0.0.1:${port}/token` };
}

function authConfig(auth: RegistryAuth | undefined, htpasswd: string, token?: { realm: string; certFile: string }): string {
  if (!auth) return '';
  if (token) {
    return `auth:\n  token:\n    realm: ${token.realm}\n    service: ${TOKEN_SERVICE}\n    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${token.certFile}\n`;
  }
  return `auth:\n  htpasswd:\n    realm: shoal-test\n    path: ${htpasswd}\n`;
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  hookExit();
  const dir = await mkdtemp(join(tmpdir(), 'shoal-registry-'));
  const entry: { child?: ChildProcess; dir: string; issuer?: Server } = { dir };
  live.add(entry);
  try {
    const storageDir = join(dir, 'storage');
    await mkdir(storageDir);
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const tls = opts.tls ? await makeTlsFiles(dir) : undefined;
    const htpasswd = join(dir, 'htpasswd');
    const counter = { requests: 0 };
    let token: { realm: string; certFile: string } | undefined;
    if (opts.auth?.type === 'token') {
      const issuer = await startTokenIssuer(dir, opts.auth, counter);
      entry.issuer = issuer.server;
      token = issuer;
    } else if (opts.auth) {
      const { stdout } = await execa('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password]);
      await writeFile(htpasswd, `${stdout.trim()}\n`);
    }
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${storageDir}
  delete:
    enabled: true
http:
  addr: ${host}
  secret: shoal-test-secret
${tls ? `  tls:\n    certificate: ${tls.cert}\n    key: ${tls.key}\n` : ''}${authConfig(opts.auth, htpasswd, token)}${opts.proxyOf ? `proxy:\n  remoteurl: ${opts.proxyOf}\n` : ''}`,
    );
    const url = `${tls ? 'https' : 'http'}://${host}`;
    const probe = new Agent({ connect: tls ? { ca: await readFile(tls.caFile, 'utf8') } : {} });

    const launch = async () => {
      const log = openSync(join(dir, 'registry.log'), 'a');
      const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log] });
      closeSync(log);
      entry.child = child;
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${await logTail(dir)}`);
        }
        try {
          const res = await request(`${url}/v2/`, { dispatcher: probe });
          await res.body.dump();
          if (res.statusCode === 200 || res.statusCode === 401) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url}/v2/ within ${READY_TIMEOUT_MS} ms:\n${await logTail(dir)}`);
        await sleep(50);
      }
    };

    const kill = async () => {
      const child = entry.child;
      entry.child = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };

    await launch();
    let stopped = false;
    return {
      host,
      url,
      caFile: tls?.caFile,
      auth: opts.auth,
      dir,
      storageDir,
      get tokenRequests() {
        return counter.requests;
      },
      kill,
      restart: async () => {
        await kill();
        await launch();
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await kill();
        await probe.close();
        if (entry.issuer) await new Promise((resolve) => entry.issuer!.close(resolve));
        await rm(dir, { recursive: true, force: true });
        live.delete(entry);
      },
    };
  } catch (err) {
    entry.child?.kill('SIGKILL');
    entry.issuer?.close();
    await rm(dir, { recursive: true, force: true });
    live.delete(entry);
    throw err;
  }
}

async function logTail(dir: string): Promise<string> {
  const text = await readFile(join(dir, 'registry.log'), 'utf8').catch(() => '');
  return text.split('\n').slice(-20).join('\n');
}

/**
 * Pushes `filePath` as an oras-style single-file artifact: an OCI image
 * manifest with `artifactType`, the empty config `{}` and one layer titled
 * with the file name. `refTag` is `repo[/repo...]:tag`.
 */
export async function pushArtifact(registry: TestRegistry, refTag: string, filePath: string, opts: PushOptions): Promise<PushedArtifact> {
  const colon = refTag.lastIndexOf(':');
  if (colon < 0) throw new Error(`pushArtifact: "${refTag}" is not repo:tag`);
  const tag = refTag.slice(colon + 1);
  const layout = await mkdtemp(join(registry.dir, 'layout-'));
  try {
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const digest = await sha256File(filePath);
    const { size } = await stat(filePath);
    const layerPath = join(blobs, digest.slice('sha256:'.length));
    // A hard link saves copying big test blobs; a copy when the file lives on another filesystem.
    await link(filePath, layerPath).catch(() => copyFile(filePath, layerPath));
    const configDigest = sha256(EMPTY_CONFIG);
    await writeFile(join(blobs, configDigest.slice('sha256:'.length)), EMPTY_CONFIG);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: opts.artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: EMPTY_CONFIG.length, data: EMPTY_CONFIG.toString('base64') },
        layers: [
          {
            mediaType: opts.mediaType,
            digest,
            size,
            ...(opts.title ? { annotations: { 'org.opencontainers.image.title': opts.title } } : {}),
          },
        ],
      }),
    );
    const manifestDigest = sha256(manifest);
    await writeFile(join(blobs, manifestDigest.slice('sha256:'.length)), manifest);
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: manifestDigest,
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    );
    const creds = registry.auth ? ['--dest-creds', `${registry.auth.username}:${registry.auth.password}`] : [];
    await execa('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', ...creds, `oci:${layout}:${tag}`, `docker://${registry.host}/${refTag}`]);
    return { digest, size, manifestDigest };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

/** Where the registry keeps a blob's bytes. */
export function blobDataPath(registry: TestRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/**
 * Waits until a pull-through cache holds the blob in its storage, whole: distribution's proxy stores a cold blob
 * with a fetch from the origin of its own, in the background, which may still run when the client's pull has
 * ended. Only then is the cache warm, and the origin's count of served blobs final.
 */
export async function untilCached(mirror: TestRegistry, digest: string, size: number, timeoutMs = 60_000): Promise<void> {
  const path = blobDataPath(mirror, digest);
  const deadline = Date.now() + timeoutMs;
  while ((await stat(path).catch(() => undefined))?.size !== size) {
    if (Date.now() > deadline) throw new Error(`the cache ${mirror.host} did not store ${digest} within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

/**
 * Damages a pushed blob in the registry's storage: flips the bits of one byte
 * in the middle, keeping the size, so only a digest check can tell. Affects
 * every tag that shares the blob: push the file under a tag of its own.
 */
export function corruptBlob(registry: TestRegistry, digest: string): void {
  const fd = openSync(blobDataPath(registry, digest), 'r+');
  try {
    const byte = Buffer.alloc(1);
    const at = Math.floor(fstatSync(fd).size / 2);
    readSync(fd, byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}
