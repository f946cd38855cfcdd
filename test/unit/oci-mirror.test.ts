// Registry mirrors (issue 14 item 2) against registries of the tests' own, which can be stale, damaged or cut
// off on cue; the integration test runs Debian's docker-registry as a real pull-through cache.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { RegistryClient, RegistryError, type ResolvedArtifact } from '../../ops/oci/client.ts';
import { MEDIA_TYPES } from '../../ops/oci/manifest.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf('{}'), size: 2 };
const FAST_RETRY = { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };

function artifact(blob: Buffer) {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: 'application/vnd.shoal.rootfs.tar',
    config: EMPTY,
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(blob), size: blob.length, annotations: { 'org.opencontainers.image.title': 'rootfs.tar' } }],
  });
  return { blob, manifest, digest: digestOf(manifest) };
}

const NEW = artifact(randomBytes(512 * 1024));
const OLD = artifact(randomBytes(256 * 1024));

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

type Content = { tags: Record<string, string>; manifests: string[]; blobs: Buffer[] };
type Override = (req: IncomingMessage, res: ServerResponse) => boolean;

/** A registry holding `content` for os/a; `override` may answer a request first (return true when it did). */
async function registry(content: Content, override: Override = () => false) {
  const server = await serve((req, res) => {
    if (override(req, res)) return;
    const m = /^\/v2\/os\/a\/(manifests|blobs)\/([^/?]+)$/.exec(req.url ?? '');
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    if (m?.[1] === 'manifests') {
      const body = content.manifests.find((x) => digestOf(x) === (content.tags[m[2]!] ?? m[2]));
      if (!body) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'content-length': body.length, 'docker-content-digest': digestOf(body) });
      return void (req.method === 'HEAD' ? res.end() : res.end(body));
    }
    const blob = m?.[1] === 'blobs' ? content.blobs.find((b) => digestOf(b) === m[2]) : undefined;
    if (!blob) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start ? 206 : 200, { 'content-length': blob.length - start, ...(start ? { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}) });
    res.end(blob.subarray(start));
  });
  servers.push(server);
  const seen = (kind: 'manifests' | 'blobs', method = 'GET') => server.requests.filter((r) => r.path.includes(`/${kind}/`) && r.method === method).length;
  return { server, host: server.host, seen };
}

const origin = (over?: Override) => registry({ tags: { '1': NEW.digest }, manifests: [NEW.manifest], blobs: [NEW.blob] }, over);

async function pullAll(client: RegistryClient, resolved: ResolvedArtifact): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(client.openBlob(resolved), new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) }));
  return Buffer.concat(chunks);
}

function client(mirrors: string[], lines: string[]) {
  return new RegistryClient({ plainHttp: ['127.0.0.1'], retry: FAST_RETRY, mirrors, log: (l) => lines.push(l) });
}

test('the tag is resolved at the origin (HEAD only); manifest and blob come from the mirror; the log says so', async () => {
  const o = await origin();
  const mirror = await registry({ tags: {}, manifests: [NEW.manifest], blobs: [NEW.blob] });
  const lines: string[] = [];
  const c = client([mirror.host], lines);
  const resolved = await c.resolve(`${o.host}/os/a:1`);
  assert.equal(resolved.manifestDigest, NEW.digest);
  assert.equal(resolved.reference.registry, o.host, 'the artifact is still the origin’s');
  assert.ok((await pullAll(c, resolved)).equals(NEW.blob));
  assert.deepEqual([o.seen('manifests', 'HEAD'), o.seen('manifests'), o.seen('blobs')], [1, 0, 0]);
  assert.deepEqual([mirror.seen('manifests'), mirror.seen('blobs')], [1, 1]);
  assert.ok(
    lines.some((l) => l.includes(`manifest ${NEW.digest} from mirror ${mirror.host}`)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.endsWith(`digest verified; 512 KiB from mirror ${mirror.host}`)),
    lines.join('\n'),
  );
});

test('a stale mirror cannot serve an old image under the tag: the origin’s digest is what is fetched', async () => {
  const o = await origin();
  const stale = await registry({ tags: { '1': OLD.digest }, manifests: [OLD.manifest], blobs: [OLD.blob] });
  const lines: string[] = [];
  const c = client([stale.host], lines);
  const resolved = await c.resolve(`${o.host}/os/a:1`);
  assert.equal(resolved.manifestDigest, NEW.digest);
  assert.ok((await pullAll(c, resolved)).equals(NEW.blob));
  assert.equal(
    stale.server.requests.some((r) => r.path.endsWith('/manifests/1')),
    false,
    'the mirror was never asked for the tag',
  );
  assert.ok(
    lines.some((l) => l.includes(`mirror ${stale.host}`) && l.includes('falling back to the origin')),
    lines.join('\n'),
  );
});

test('a mirror that cuts the blob off halfway: the origin carries on from that byte with Range', async () => {
  const o = await origin();
  const cut = await registry({ tags: {}, manifests: [NEW.manifest], blobs: [] }, (req, res) => {
    if (!req.url?.includes('/blobs/')) return false;
    res.writeHead(200, { 'content-length': NEW.blob.length });
    res.write(NEW.blob.subarray(0, 200_000), () => setTimeout(() => res.socket?.destroy(), 10));
    return true;
  });
  const lines: string[] = [];
  const c = client([cut.host], lines);
  assert.ok((await pullAll(c, await c.resolve(`${o.host}/os/a:1`))).equals(NEW.blob));
  const resumed = o.server.requests.find((r) => r.path.includes('/blobs/'));
  assert.match(String(resumed?.headers.range), /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(String(resumed?.headers.range))![0]) > 0);
  assert.ok(
    lines.some((l) => /digest verified; [\d.]+ KiB from mirror .*, [\d.]+ KiB from the origin/.test(l)),
    lines.join('\n'),
  );
});

test('a mirror serving damaged bytes cannot change what is installed: a damaged manifest is skipped, a damaged blob fails the pull', async () => {
  const o = await origin();
  const damaged = Buffer.from(NEW.blob);
  damaged[1000]! ^= 0xff;
  const bad = await registry({ tags: {}, manifests: [], blobs: [] }, (req, res) => {
    if (req.url?.includes('/manifests/')) return (void res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest }).end(OLD.manifest), true);
    if (req.url?.includes('/blobs/')) return (void res.writeHead(200, { 'content-length': damaged.length }).end(damaged), true);
    return false;
  });
  const lines: string[] = [];
  const c = client([bad.host], lines);
  const resolved = await c.resolve(`${o.host}/os/a:1`);
  assert.equal(resolved.manifestDigest, NEW.digest, 'the manifest came from the origin');
  assert.equal(o.seen('manifests'), 1);
  await assert.rejects(pullAll(c, resolved), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'digest-mismatch');
    assert.match(e.message, new RegExp(`from mirror ${bad.host}.*the mirror's copy or the artifact is damaged`));
    return true;
  });
});

test('the origin does not answer: the tag is resolved at the mirror, with a warning that it may be stale', async () => {
  const gone = await origin();
  const host = gone.host;
  await gone.server.close();
  const mirror = await registry({ tags: { '1': NEW.digest }, manifests: [NEW.manifest], blobs: [NEW.blob] });
  const lines: string[] = [];
  const c = client([mirror.host], lines);
  const resolved = await c.resolve(`${host}/os/a:1`);
  assert.ok((await pullAll(c, resolved)).equals(NEW.blob));
  assert.ok(
    lines.some((l) => l.includes('the origin does not answer') && l.includes('may hold an older image')),
    lines.join('\n'),
  );
});

test('an origin that 404s the tag is final: no mirror is asked to make one up', async () => {
  const o = await origin();
  const mirror = await registry({ tags: { gone: OLD.digest }, manifests: [OLD.manifest], blobs: [OLD.blob] });
  await assert.rejects(client([mirror.host], []).resolve(`${o.host}/os/a:gone`), (e: unknown) => e instanceof RegistryError && e.code === 'not-found');
  assert.equal(mirror.server.requests.length, 0);
});
