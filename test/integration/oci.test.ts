// The OCI client against a real registry (Debian's docker-registry):
// anonymous, basic auth, token auth, TLS with a private CA, a damaged blob,
// and the registry killed and restarted in the middle of a 64 MiB pull.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { RegistryClient, RegistryError, type RegistryClientOptions } from '../../ops/oci/client.ts';
import { detectFormat, FORMAT_SNIFF_BYTES, peek } from '../../ops/oci/format.ts';
import { holdBlob, type BlobHold } from '../helpers/hold-blob.ts';
import { corruptBlob, missingRegistryTools, pushArtifact, REGISTRY_TOOLS, startRegistry, type PushedArtifact, type TestRegistry } from '../helpers/registry.ts';

const SKIP = missingRegistryTools([...REGISTRY_TOOLS, 'zstd', 'tar']);
if (SKIP) process.stderr.write(`SKIPPED test/integration/oci.test.ts: ${SKIP}\n`);

/** A test that skips itself, loudly and counted, when a tool is missing (a skipped suite would not be counted). */
function it(name: string, fn: (t: TestContext) => Promise<void>): void {
  test(name, (t) => (SKIP ? t.skip(SKIP) : fn(t)));
}

const ORAS_DEFAULT = 'application/vnd.oci.image.layer.v1.tar';
const ROOTFS = 'application/vnd.shoal.rootfs.tar.gz';
const PASSWORD = 'correct-horse-battery-staple';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A small real rootfs tarball, gzip- and zstd-compressed. */
async function makeRootfs(work: string): Promise<{ gz: string; zst: string }> {
  const tree = join(work, 'tree');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
  await writeFile(join(tree, 'random.bin'), randomBytes(2 * 1024 * 1024));
  const tar = join(work, 'rootfs.tar');
  await execa('tar', ['-cf', tar, '-C', tree, '.']);
  const gz = join(work, 'rootfs.tar.gz');
  await writeFile(gz, gzipSync(await readFile(tar)));
  const zst = join(work, 'rootfs.tar.zst');
  await execa('zstd', ['-q', '-f', tar, '-o', zst]);
  return { gz, zst };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function isRegistryError(code: string, pattern?: RegExp, secrets: string[] = []) {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    for (const secret of secrets) assert.ok(!e.message.includes(secret), 'no secret in the message');
    return true;
  };
}

function newClient(opts: RegistryClientOptions = {}): { client: RegistryClient; lines: string[] } {
  const lines: string[] = [];
  return { client: new RegistryClient({ log: (l) => lines.push(l), ...opts }), lines };
}

describe('anonymous plain-HTTP registry', () => {
  let registry: TestRegistry;
  let work: string;
  let files: { gz: string; zst: string };
  let gz: PushedArtifact;
  let zst: PushedArtifact;

  before(async () => {
    if (SKIP) return;
    work = await mkdtemp(join(tmpdir(), 'oci-it-'));
    registry = await startRegistry();
    files = await makeRootfs(work);
    // How Shoal pushes: `oras push --artifact-type ... rootfs.tar.gz` leaves the oras default layer type.
    gz = await pushArtifact(registry, 'os-images/ubuntu-rootfs:22.04', files.gz, { mediaType: ORAS_DEFAULT, artifactType: ROOTFS, title: 'rootfs.tar.gz' });
    zst = await pushArtifact(registry, 'os-images/ubuntu-rootfs:zst', files.zst, {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      artifactType: 'application/vnd.shoal.rootfs.tar.zst',
      title: 'rootfs.tar.zst',
    });
    await pushArtifact(registry, 'os-images/debian-rootfs:12', files.gz, { mediaType: ORAS_DEFAULT, artifactType: ROOTFS, title: 'rootfs.tar.gz' });
  });
  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('resolve: the manifest skopeo pushed, its artifact type and the one layer', async () => {
    const { client, lines } = newClient();
    const resolved = await client.resolve(`${registry.host}/os-images/ubuntu-rootfs:22.04`);
    assert.equal(resolved.manifestDigest, gz.manifestDigest);
    assert.equal(resolved.artifactType, ROOTFS);
    assert.equal(resolved.configMediaType, 'application/vnd.oci.empty.v1+json');
    assert.deepEqual(resolved.layer, { digest: gz.digest, size: gz.size, mediaType: ORAS_DEFAULT, title: 'rootfs.tar.gz' });
    assert.ok(
      lines.some((l) => l.includes('answers in plain HTTP')),
      'loopback: HTTPS tried, then plain HTTP',
    );
    const pinned = await client.resolve(`${registry.host}/os-images/ubuntu-rootfs@${gz.manifestDigest}`);
    assert.equal(pinned.layer.digest, gz.digest);
  });

  for (const kind of ['gzip', 'zstd'] as const) {
    it(`pull a ${kind} artifact: the same bytes, verified, with progress, format detected from the stream`, async () => {
      const { client } = newClient();
      const pushed = kind === 'gzip' ? gz : zst;
      const resolved = await client.resolve(`${registry.host}/os-images/ubuntu-rootfs:${kind === 'gzip' ? '22.04' : 'zst'}`);
      let last: [number, number] = [0, 0];
      const blob = client.openBlob(resolved, { onProgress: (done, total) => (last = [done, total]) });
      const { head, stream } = await peek(blob, FORMAT_SNIFF_BYTES);
      assert.equal(detectFormat(resolved.layer, head), kind);
      const bytes = await collect(stream);
      assert.ok(bytes.equals(await readFile(kind === 'gzip' ? files.gz : files.zst)));
      assert.equal(sha256(bytes), pushed.digest);
      assert.deepEqual(last, [pushed.size, pushed.size]);
    });
  }

  it('readBlobRange reads a slice without the rest', async () => {
    const { client } = newClient();
    const resolved = await client.resolve(`${registry.host}/os-images/ubuntu-rootfs:zst`);
    const whole = await readFile(files.zst);
    assert.ok((await client.readBlobRange(resolved, 100, 4195)).equals(whole.subarray(100, 4196)));
  });

  it('a missing tag or repository is not-found, naming the reference', async () => {
    const { client } = newClient();
    await assert.rejects(
      client.resolve(`${registry.host}/os-images/ubuntu-rootfs:24.04`),
      isRegistryError('not-found', new RegExp(`${registry.host}/os-images/ubuntu-rootfs:24.04: not found.*MANIFEST_UNKNOWN.*check the repository and tag`)),
    );
    await assert.rejects(client.resolve(`${registry.host}/os-images/nothing:1`), isRegistryError('not-found', /os-images\/nothing:1: not found/));
  });

  it('catalog and tags, one entry per page so the Link pages are followed', async () => {
    const { client } = newClient();
    assert.deepEqual(await client.listRepositories(registry.host, { pageSize: 1 }), ['os-images/debian-rootfs', 'os-images/ubuntu-rootfs']);
    assert.deepEqual((await client.listTags(`${registry.host}/os-images/ubuntu-rootfs`, { pageSize: 1 })).sort(), ['22.04', 'zst']);
  });

  it('a damaged blob: the stream errors with digest-mismatch, through peek too, and never ends', async () => {
    const file = join(work, 'damaged.tar.gz');
    await writeFile(file, gzipSync(randomBytes(512 * 1024)));
    const pushed = await pushArtifact(registry, 'damaged/rootfs:1', file, { mediaType: ORAS_DEFAULT, artifactType: ROOTFS, title: 'rootfs.tar.gz' });
    corruptBlob(registry, pushed.digest);
    const { client } = newClient();
    const resolved = await client.resolve(`${registry.host}/damaged/rootfs:1`);
    const { stream } = await peek(client.openBlob(resolved), FORMAT_SNIFF_BYTES);
    let ended = false;
    stream.on('end', () => (ended = true));
    await assert.rejects(
      pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })),
      isRegistryError('digest-mismatch', new RegExp(`damaged/rootfs@${pushed.digest}: the downloaded bytes have digest sha256:[0-9a-f]{64}; .*re-push`)),
    );
    assert.equal(ended, false);
  });
});

for (const type of ['basic', 'token'] as const) {
  describe(`registry with ${type} auth`, () => {
    let registry: TestRegistry;
    let work: string;
    let pushed: PushedArtifact;

    before(async () => {
      if (SKIP) return;
      work = await mkdtemp(join(tmpdir(), 'oci-it-'));
      registry = await startRegistry({ auth: { username: 'shoal', password: PASSWORD, type } });
      const file = join(work, 'rootfs.tar.gz');
      await writeFile(file, gzipSync(randomBytes(256 * 1024)));
      pushed = await pushArtifact(registry, 'os-images/private:1', file, { mediaType: ORAS_DEFAULT, artifactType: ROOTFS, title: 'rootfs.tar.gz' });
    });
    after(async () => {
      await registry?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('no credentials: unauthorized, saying the registry needs them and how to give them', async () => {
      const { client } = newClient();
      await assert.rejects(
        client.resolve(`${registry.host}/os-images/private:1`),
        isRegistryError('unauthorized', new RegExp(`registry ${registry.host} requires authentication.*username and password`)),
      );
    });

    it('a wrong password: unauthorized, naming the user', async () => {
      const { client } = newClient({ username: 'shoal', password: 'not-the-password' });
      await assert.rejects(client.resolve(`${registry.host}/os-images/private:1`), isRegistryError('unauthorized', /user "shoal"/, ['not-the-password']));
    });

    it('with credentials: resolve, pull and list; no password or token in any log line', async () => {
      const { client, lines } = newClient({ username: 'shoal', password: PASSWORD });
      const tokensBefore = registry.tokenRequests;
      const resolved = await client.resolve(`${registry.host}/os-images/private:1`);
      assert.equal(sha256(await collect(client.openBlob(resolved))), pushed.digest);
      if (type === 'token') assert.equal(registry.tokenRequests - tokensBefore, 1, 'one token serves the manifest and the blob');
      assert.deepEqual(await client.listTags(`${registry.host}/os-images/private`), ['1']);
      assert.deepEqual(await client.listRepositories(registry.host), ['os-images/private']);
      assert.ok(lines.length > 0);
      for (const line of lines) {
        assert.ok(!line.includes(PASSWORD), line);
        assert.ok(!/eyJ[\w-]+\./.test(line), `no JWT in: ${line}`);
        assert.ok(!line.includes(Buffer.from(`shoal:${PASSWORD}`).toString('base64')), line);
      }
    });
  });
}

describe('TLS registry with a private CA', () => {
  let registry: TestRegistry;
  let work: string;
  let pushed: PushedArtifact;

  before(async () => {
    if (SKIP) return;
    work = await mkdtemp(join(tmpdir(), 'oci-it-'));
    registry = await startRegistry({ tls: true });
    const file = join(work, 'install.wim');
    await writeFile(file, Buffer.concat([Buffer.from('MSWIM\0\0\0', 'latin1'), randomBytes(64 * 1024)]));
    pushed = await pushArtifact(registry, 'os-images/windows:1', file, {
      mediaType: 'application/vnd.shoal.windows.wim',
      artifactType: 'application/vnd.shoal.windows.wim',
      title: 'install.wim',
    });
  });
  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('with the CA file: verified HTTPS, no fallback to plain HTTP', async () => {
    const { client, lines } = newClient({ caFile: registry.caFile });
    const resolved = await client.resolve(`${registry.host}/os-images/windows:1`);
    assert.equal(detectFormat(resolved.layer, await client.readBlobRange(resolved, 0, FORMAT_SNIFF_BYTES - 1)), 'wim');
    assert.equal(sha256(await collect(client.openBlob(resolved))), pushed.digest);
    assert.ok(!lines.some((l) => l.includes('plain HTTP')), lines.join('\n'));
  });

  it('without the CA file: a tls error that says to give the CA', async () => {
    const { client } = newClient({ retry: { attempts: 1 } });
    await assert.rejects(client.resolve(`${registry.host}/os-images/windows:1`), isRegistryError('tls', /https:\/\/127\.0\.0\.1:\d+.*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*caFile/));
  });
});

/** A TCP proxy that counts the bytes the registry sends: what crossed the wire, headers included. */
async function countingProxy(target: string) {
  const [host, port] = target.split(':') as [string, string];
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    upstream.on('data', (d: Buffer) => (received += d.length));
    upstream.pipe(client);
    client.pipe(upstream);
    // A registry that dies mid-body closes cleanly after its last byte (FIN), which pipe() passes on;
    // one that is not there (ECONNREFUSED) is a reset for the client.
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return received;
    },
    reset() {
      received = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('fault: the registry is killed mid-pull and restarted', () => {
  const SIZE = 64 * 1024 * 1024;
  let registry: TestRegistry;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let hold: BlobHold;
  let work: string;
  let pushed: PushedArtifact;

  before(async () => {
    if (SKIP) return;
    work = await mkdtemp(join(tmpdir(), 'oci-it-'));
    registry = await startRegistry();
    const file = join(work, 'big.bin');
    await writeFile(file, randomBytes(SIZE));
    pushed = await pushArtifact(registry, 'fault/big:1', file, { mediaType: 'application/octet-stream', artifactType: ROOTFS, title: 'big.bin' });
    // client -> counting proxy -> hold (an eighth of the blob, then nothing until released) -> registry
    hold = await holdBlob(registry, pushed.digest, SIZE / 8);
    proxy = await countingProxy(hold.host);
  });
  after(async () => {
    await proxy?.close();
    hold?.release();
    await hold?.close();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the pull resumes with Range, completes with the right digest, and re-fetches almost nothing', async (t) => {
    const { client, lines } = newClient({ plainHttp: ['127.0.0.1'], retry: { attempts: 10, baseDelayMs: 200, maxDelayMs: 1000 } });
    const resolved = await client.resolve(`${proxy.host}/fault/big:1`);
    proxy.reset();
    const blob = client.openBlob(resolved);
    // The registry dies while the blob is known to be mid-transfer (held), and comes back.
    const outage = hold.reached.then(async () => {
      await registry.kill();
      await registry.restart();
      hold.release();
    });
    const hash = createHash('sha256');
    let delivered = 0;
    const started = Date.now();
    await pipeline(
      blob,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          delivered += chunk.length;
          cb();
        },
      }),
    );
    await outage;
    const wire = proxy.received;
    const resumes = lines.filter((l) => l.includes('resuming at byte'));
    t.diagnostic(`killed while held at ${SIZE / 8} bytes; ${resumes.length} retries; ${Date.now() - started} ms`);
    t.diagnostic(`bytes from the registry over the wire: ${wire} for a ${SIZE}-byte blob (${(wire / SIZE).toFixed(4)}x)`);
    for (const line of resumes) t.diagnostic(line);
    assert.equal(`sha256:${hash.digest('hex')}`, pushed.digest);
    assert.equal(delivered, SIZE);
    const firstResume = Number(/resuming at byte (\d+)/.exec(resumes[0] ?? '')?.[1]);
    assert.ok(firstResume > 0 && firstResume < SIZE, `the pull resumed mid-blob (at ${firstResume}), not from 0 and not after the end`);
    assert.ok(wire <= SIZE * 1.05, `${wire} bytes fetched for ${SIZE}: more than 1.05x`);
    const access = await readFile(join(registry.dir, 'registry.log'), 'utf8');
    assert.match(access, /GET \/v2\/fault\/big\/blobs\/sha256:[0-9a-f]{64}/);
  });
});
