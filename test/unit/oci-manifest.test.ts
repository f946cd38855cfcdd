// Manifest shapes a test registry cannot easily be given (indexes, Docker
// lists, several layers, lying content): a fake registry serves them verbatim.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { RegistryClient, RegistryError } from '../../ops/oci/client.ts';
import { MEDIA_TYPES } from '../../ops/oci/manifest.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const LAYER_DIGEST = `sha256:${'b'.repeat(64)}`;
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf('{}'), size: 2 };

function layer(title: string, digest = LAYER_DIGEST) {
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 1234, annotations: { 'org.opencontainers.image.title': title } };
}

const oras = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  artifactType: 'application/vnd.shoal.rootfs.tar.gz',
  config: EMPTY,
  layers: [layer('rootfs.tar.gz')],
});
const oras10 = JSON.stringify({ schemaVersion: 2, config: { ...EMPTY, mediaType: 'application/vnd.shoal.windows.wim' }, layers: [layer('install.wim')] });
const arm = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: EMPTY, layers: [layer('arm.tar.gz')] });
const docker = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.dockerManifest,
  config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: EMPTY.digest, size: 2 },
  layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: LAYER_DIGEST, size: 99 }],
});
const index = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociIndex,
  manifests: [
    { mediaType: MEDIA_TYPES.ociManifest, digest: digestOf(arm), size: arm.length, platform: { os: 'linux', architecture: 'arm64' } },
    { mediaType: MEDIA_TYPES.ociManifest, digest: digestOf(oras), size: oras.length, platform: { os: 'linux', architecture: 'amd64' } },
  ],
});
const dockerList = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.dockerList,
  manifests: [{ mediaType: MEDIA_TYPES.dockerManifest, digest: digestOf(docker), size: docker.length }],
});
const noAmd64 = JSON.stringify({
  schemaVersion: 2,
  manifests: [
    { mediaType: MEDIA_TYPES.ociManifest, digest: digestOf(arm), size: arm.length, platform: { os: 'linux', architecture: 'arm64' } },
    { mediaType: MEDIA_TYPES.ociManifest, digest: digestOf(arm), size: arm.length, platform: { os: 'windows', architecture: 'amd64' } },
  ],
});
const twoLayers = JSON.stringify({ schemaVersion: 2, config: EMPTY, layers: [layer('rootfs.tar.gz'), layer('extra.bin', `sha256:${'c'.repeat(64)}`)] });
const IMAGE_CONFIG = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf('{"os":"linux"}'), size: 15 };
const stackLayer = (mediaType: string, n: number) => ({ mediaType, digest: `sha256:${String(n).repeat(64)}`, size: 100 * n });
const stack = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  config: IMAGE_CONFIG,
  layers: [
    stackLayer('application/vnd.oci.image.layer.v1.tar+gzip', 1),
    stackLayer('application/vnd.oci.image.layer.v1.tar+zstd', 2),
    stackLayer('application/vnd.oci.image.layer.v1.tar', 3),
    stackLayer('application/vnd.docker.image.rootfs.diff.tar.gzip', 4),
  ],
});
const noLayers = JSON.stringify({ schemaVersion: 2, config: EMPTY, layers: [] });
const schema1 = JSON.stringify({ schemaVersion: 1, name: 'os/a', tag: 'old', fsLayers: [] });

/** tag or digest -> [content type, body] */
const content = new Map<string, [string, string]>([
  ['oras', [MEDIA_TYPES.ociManifest, oras]],
  [digestOf(oras), [MEDIA_TYPES.ociManifest, oras]],
  ['oras10', ['application/json', oras10]],
  [digestOf(arm), [MEDIA_TYPES.ociManifest, arm]],
  ['multi', [MEDIA_TYPES.ociIndex, index]],
  ['docker', [MEDIA_TYPES.dockerList, dockerList]],
  [digestOf(docker), [MEDIA_TYPES.dockerManifest, docker]],
  ['no-amd64', [MEDIA_TYPES.ociIndex, noAmd64]],
  ['two-layers', [MEDIA_TYPES.ociManifest, twoLayers]],
  ['no-layers', [MEDIA_TYPES.ociManifest, noLayers]],
  ['stack', [MEDIA_TYPES.ociManifest, stack]],
  ['schema1', ['application/vnd.docker.distribution.manifest.v1+prettyjws', schema1]],
  // Served under the digest of another manifest: a registry (or a proxy) lying.
  [digestOf(arm).replace(/.$/, (c) => (c === '0' ? '1' : '0')), [MEDIA_TYPES.ociManifest, arm]],
]);

let registry: TestServer;
let client: RegistryClient;
before(async () => {
  registry = await serve((req, res) => {
    const key = /\/manifests\/(.+)$/.exec(req.url ?? '')?.[1] ?? '';
    const found = content.get(decodeURIComponent(key));
    if (!found) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      return;
    }
    res.writeHead(200, { 'content-type': found[0] }).end(found[1]);
  });
  client = new RegistryClient({ plainHttp: ['127.0.0.1'] });
});
after(async () => {
  await client.close();
  await registry.close();
});

function refusal(code: string, pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

test('an oras artifact: manifest digest, artifact type, config type and the one layer with its title', async () => {
  const resolved = await client.resolve(`${registry.host}/os/a:oras`);
  assert.deepEqual(resolved, {
    reference: { registry: registry.host, repository: 'os/a', tag: 'oras' },
    manifestDigest: digestOf(oras),
    artifactType: 'application/vnd.shoal.rootfs.tar.gz',
    configMediaType: EMPTY.mediaType,
    config: EMPTY,
    layer: { digest: LAYER_DIGEST, size: 1234, mediaType: 'application/vnd.oci.image.layer.v1.tar', title: 'rootfs.tar.gz' },
    layers: [{ digest: LAYER_DIGEST, size: 1234, mediaType: 'application/vnd.oci.image.layer.v1.tar', title: 'rootfs.tar.gz' }],
  });
  const accept = String(registry.requests[0]!.headers.accept);
  for (const type of Object.values(MEDIA_TYPES)) assert.ok(accept.includes(type), `Accept names ${type}`);
  assert.equal((await client.resolve(`${registry.host}/os/a@${digestOf(oras)}`)).manifestDigest, digestOf(oras));
});

test('oras before 1.1 put the artifact type in the config media type; application/json is read by shape', async () => {
  const resolved = await client.resolve(`${registry.host}/os/a:oras10`);
  assert.equal(resolved.artifactType, 'application/vnd.shoal.windows.wim');
  assert.equal(resolved.layer.title, 'install.wim');
});

test("an OCI index: this machine's entry (linux/amd64 here); a Docker list with one entry: that entry", async () => {
  const fromIndex = await client.resolve(`${registry.host}/os/a:multi`);
  assert.equal(fromIndex.manifestDigest, digestOf(oras));
  assert.equal(fromIndex.layer.title, 'rootfs.tar.gz');
  const fromList = await client.resolve(`${registry.host}/os/a:docker`);
  assert.equal(fromList.manifestDigest, digestOf(docker));
  assert.equal(fromList.artifactType, undefined, 'a container image config is not an artifact type');
  assert.equal(fromList.layer.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
});

test('refusals name the problem: no amd64 entry, several layers, no layer, schema 1', async () => {
  await assert.rejects(client.resolve(`${registry.host}/os/a:no-amd64`), refusal('unsupported', /no linux\/amd64 entry.*linux\/arm64, windows\/amd64.*by digest/));
  await assert.rejects(client.resolve(`${registry.host}/os/a:two-layers`), refusal('unsupported', /2 layers \(rootfs\.tar\.gz .*; extra\.bin .*single-file artifact/));
  await assert.rejects(client.resolve(`${registry.host}/os/a:no-layers`), refusal('unsupported', /0 layers/));
  await assert.rejects(client.resolve(`${registry.host}/os/a:schema1`), refusal('unsupported', /not an OCI or Docker schema 2 manifest/));
});

test('a container image of several tar layers: every layer bottom first, the config, no title needed', async () => {
  const resolved = await client.resolve(`${registry.host}/os/a:stack`);
  assert.deepEqual(
    resolved.layers.map((l) => [l.digest, l.size, l.mediaType]),
    JSON.parse(stack).layers.map((l: { digest: string; size: number; mediaType: string }) => [l.digest, l.size, l.mediaType]),
  );
  assert.equal(resolved.layer, resolved.layers[0]);
  assert.deepEqual(resolved.config, IMAGE_CONFIG);
  assert.equal(resolved.artifactType, undefined);
  assert.equal(resolved.platform, undefined, 'no index, no platform');
  assert.equal((await client.resolve(`${registry.host}/os/a:multi`)).platform, 'linux/amd64');
});

test('a manifest whose bytes do not match the digest asked for is digest-mismatch', async () => {
  const wrong = digestOf(arm).replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  await assert.rejects(client.resolve(`${registry.host}/os/a@${wrong}`), refusal('digest-mismatch', new RegExp(`not the requested ${wrong}`)));
});

test('a missing tag is not-found, naming the reference, with a hint on how to list the tags', async () => {
  await assert.rejects(
    client.resolve(`${registry.host}/os/a:nope`),
    refusal('not-found', new RegExp(`${registry.host}/os/a:nope: not found \\(HTTP 404, MANIFEST_UNKNOWN: manifest unknown\\); check the repository and tag`)),
  );
  const e = await client.resolve(`${registry.host}/os/a:nope`).catch((err: RegistryError) => err);
  assert.ok(e instanceof RegistryError);
  assert.match(e.hint, /tags\/list/);
});
