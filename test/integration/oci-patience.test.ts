// The registry patience of a real install (issue 8 item 7): the recipe's registry.low_speed_* and retries reach
// the pull, and a stall shows in the install's log. The registry is the test's own, so it can trickle on cue.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MEDIA_TYPES } from '../../ops/oci/manifest.ts';
import { resultOf, runCli } from '../helpers/cli.ts';
import { makeDiskImage } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const TOOLS = ['sgdisk', 'mkfs.ext4'];
const BLOB = randomBytes(1024 * 1024);
const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf('{}'), size: 2 };
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  artifactType: 'application/vnd.shoal.rootfs.tar',
  config: EMPTY,
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(BLOB), size: BLOB.length, annotations: { 'org.opencontainers.image.title': 'rootfs.tar' } }],
});

let work: string | undefined;
let server: TestServer | undefined;
after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('an install from a registry that trickles its blob: stalled per the recipe, reconnected, then failed in bounded time', { timeout: 120_000 }, async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-patience-'));
  server = await serve((req, res) => {
    if (req.url?.includes('/manifests/')) return void res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'content-length': MANIFEST.length }).end(MANIFEST);
    if (!req.url?.includes('/blobs/')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    let at = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(at ? 206 : 200, { 'content-length': BLOB.length - at, ...(at ? { 'content-range': `bytes ${at}-${BLOB.length - 1}/${BLOB.length}` } : {}) });
    const send = () => void res.write(BLOB.subarray(at, ++at));
    send();
    const timer = setInterval(send, 2000);
    res.on('close', () => clearInterval(timer));
  });
  const recipe = join(work, 'recipe.json');
  await writeFile(
    recipe,
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: '/dev/null-disk',
      oci_url: `${server.host}/os/rootfs:trickle`,
      partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
      registry: { plain_http: [server.host], low_speed_limit: 1, low_speed_time: 2, retries: 2 },
    }),
  );
  const disk = makeDiskImage(join(work, 'disk.img'), '256M');
  const started = Date.now();
  const run = await runCli(['install', '--recipe', recipe, '--disk', disk, '--yes', '--json', '--stop-before', 'bootloader-linux.service'], { timeoutMs: 100_000 });
  const elapsed = Date.now() - started;
  assert.equal(run.code, 1, run.stderr + run.stdout.slice(-2000));
  const stall = run.events.find((e) => e.type === 'log' && e.level === 'warn' && e.message.includes('transfer below 1 KiB/s for 2 s: reconnecting, resuming at byte'));
  assert.ok(stall, run.stdout.slice(-3000));
  const result = resultOf(run);
  assert.equal(result?.failedStep, 'image-linux.service');
  assert.match(result?.message ?? '', /gave up after 2 attempts without progress at [2-4] of 1048576 bytes: transfer below 1 KiB\/s for 2 s/);
  assert.equal(server.requests.filter((r) => r.path.includes('/blobs/')).length, 2);
  assert.ok(elapsed < 60_000, `the install failed after ${elapsed} ms`);
});
