// A real pull-through cache (issue 14 item 2): Debian's docker-registry in proxy mode (proxy.remoteurl) in
// front of a real origin registry. The origin's access log says how often it served the blob.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { RegistryClient } from '../../ops/oci/client.ts';
import { missingRegistryTools, pushArtifact, startRegistry, type PushedArtifact, type TestRegistry } from '../helpers/registry.ts';

const TOOLS = ['docker-registry', 'skopeo'];
const why = missingRegistryTools(TOOLS);
if (why) process.stderr.write(`SKIPPED test/integration/oci-mirror.test.ts: ${why}\n`);
let work: string;
let origin: TestRegistry;
let mirror: TestRegistry;
let pushed: PushedArtifact;
let blob: Buffer;

before(async () => {
  if (why) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-mirror-'));
  origin = await startRegistry();
  mirror = await startRegistry({ proxyOf: origin.url });
  blob = randomBytes(3 * 1024 * 1024);
  await writeFile(join(work, 'rootfs.tar'), blob);
  pushed = await pushArtifact(origin, 'os/rootfs:12', join(work, 'rootfs.tar'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    artifactType: 'application/vnd.shoal.rootfs.tar',
    title: 'rootfs.tar',
  });
});

after(async () => {
  await mirror?.stop();
  await origin?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** GETs of the blob in the origin's access log (distribution logs every request it serves). */
async function originBlobGets(): Promise<number> {
  const log = await readFile(join(origin.dir, 'registry.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes(`"GET /v2/os/rootfs/blobs/${pushed.digest}`)).length;
}

async function pull(lines: string[]): Promise<Buffer> {
  const client = new RegistryClient({ mirrors: [mirror.host], log: (l) => lines.push(l) });
  try {
    const resolved = await client.resolve(`${origin.host}/os/rootfs:12`);
    assert.equal(resolved.manifestDigest, pushed.manifestDigest);
    const chunks: Buffer[] = [];
    await pipeline(client.openBlob(resolved), new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) }));
    return Buffer.concat(chunks);
  } finally {
    await client.close();
  }
}

test('through docker-registry as a pull-through cache: the blob comes from the mirror; once warm, the origin serves no more', { skip: why }, async () => {
  assert.equal(await originBlobGets(), 0);
  const first: string[] = [];
  assert.ok((await pull(first)).equals(blob));
  assert.ok(first.some((l) => l.includes(`digest verified; 3.0 MiB from mirror ${mirror.host}`)), first.join('\n'));
  assert.ok(first.some((l) => l.includes(`the origin resolves the tag to ${pushed.manifestDigest}`)), first.join('\n'));
  // Distribution 2.8's proxy fetches a cold blob from the origin more than once (here: twice for one pull).
  const cold = await originBlobGets();
  assert.ok(cold >= 1, 'the cold cache fetched the blob from the origin');

  const second: string[] = [];
  assert.ok((await pull(second)).equals(blob));
  assert.ok(second.some((l) => l.includes(`from mirror ${mirror.host}`)), second.join('\n'));
  assert.equal(await originBlobGets(), cold, 'the warm cache served it without the origin');
});

test('the mirror goes down: the pull falls back to the origin and says so', { skip: why }, async () => {
  await mirror.kill();
  try {
    const lines: string[] = [];
    assert.ok((await pull(lines)).equals(blob));
    assert.ok(lines.some((l) => l.includes(`mirror ${mirror.host}`) && l.includes('trying the next source')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes(`falling back to the origin ${origin.host} at byte 0`)), lines.join('\n'));
  } finally {
    await mirror.restart();
  }
});
