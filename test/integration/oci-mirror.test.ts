// A real pull-through cache (issue 14 item 2): Debian's docker-registry in proxy mode (proxy.remoteurl) in
// front of a real origin registry. The origin's access log says how often it served the blob. The webhook's run
// record (auto mode, in process) is checked against both registries' access logs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { runAuto } from '../../ops/auto.ts';
import { openArtifact } from '../../ops/image-source.ts';
import { imageLinuxStep } from '../../ops/steps/image-linux.ts';
import { RegistryClient } from '../../ops/oci/client.ts';
import type { StepName } from '../../ops/plan.ts';
import type { ReportedBlob } from '../../ops/report.ts';
import type { StepImpl } from '../../ops/runner.ts';
import { makeDiskImage } from '../helpers/disk.ts';
import { serve } from '../helpers/http-server.ts';
import { missingRegistryTools, pushArtifact, startRegistry, untilCached, type PushedArtifact, type TestRegistry } from '../helpers/registry.ts';

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

/** GETs of the blob in a registry's access log (distribution logs every request it serves). */
async function blobGets(registry: TestRegistry): Promise<number> {
  const log = await readFile(join(registry.dir, 'registry.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes(`"GET /v2/os/rootfs/blobs/${pushed.digest}`)).length;
}

const originBlobGets = () => blobGets(origin);

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
  assert.ok(
    first.some((l) => l.includes(`digest verified; 3.0 MiB from mirror ${mirror.host}`)),
    first.join('\n'),
  );
  assert.ok(
    first.some((l) => l.includes(`the origin resolves the tag to ${pushed.manifestDigest}`)),
    first.join('\n'),
  );
  // Distribution 2.8's proxy fetches a cold blob from the origin more than once (here: twice for one pull), the
  // second in the background to store it.
  await untilCached(mirror, pushed.digest, blob.length);
  const cold = await originBlobGets();
  assert.ok(cold >= 1, 'the cold cache fetched the blob from the origin');

  const second: string[] = [];
  assert.ok((await pull(second)).equals(blob));
  assert.ok(
    second.some((l) => l.includes(`from mirror ${mirror.host}`)),
    second.join('\n'),
  );
  assert.equal(await originBlobGets(), cold, 'the warm cache served it without the origin');
});

test('the mirror goes down: the pull falls back to the origin and says so', { skip: why }, async () => {
  await mirror.kill();
  try {
    const lines: string[] = [];
    assert.ok((await pull(lines)).equals(blob));
    assert.ok(
      lines.some((l) => l.includes(`mirror ${mirror.host}`) && l.includes('trying the next source')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.includes(`falling back to the origin ${origin.host} at byte 0`)),
      lines.join('\n'),
    );
  } finally {
    await mirror.restart();
  }
});

/**
 * An auto-mode job in process, its report caught by a real HTTP listener. The image step's preflight is the real
 * one and its run pulls the artifact through the real image source (mirrors from the recipe) to the end, unpacking
 * nothing (this blob is random bytes); the other steps are stand-ins that write nothing.
 */
async function reportedJob(serial: string): Promise<{ exitCode: number; output: string; blobs?: ReportedBlob[] }> {
  const bodies: { blobs?: ReportedBlob[] }[] = [];
  const controller = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === `/api/v1/status-webhook/${serial}`) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { blobs?: ReportedBlob[] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const dir = join(work, serial);
  try {
    await mkdir(join(dir, 'task'), { recursive: true });
    await writeFile(join(dir, 'cmdline'), `shoal.auto shoal.webhook=http://${controller.host} shoal.serial=${serial} shoal.net_wait=0 shoal.task_wait=1\n`);
    await writeFile(join(dir, 'task', 'webhook_secret'), 'mirror-test-secret\n');
    await writeFile(
      join(dir, 'task', 'recipe.json'),
      JSON.stringify({
        task_target: 'install-linux.target',
        target_disk: makeDiskImage(join(dir, 'disk.img'), '512M'),
        oci_url: `${origin.host}/os/rootfs:12`,
        partition_layout: [
          { size: '64M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
          { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
        ],
        registry: { mirrors: [mirror.host], plain_http: [origin.host, mirror.host] },
      }),
    );
    const standIn = (name: StepName): StepImpl => ({ title: `stand-in for ${name}`, async run() {} });
    const names: StepName[] = [
      'partition.service',
      'image-linux.service',
      'config-drive.service',
      'bootloader-linux.service',
      'image-windows.service',
      'bootloader-windows.service',
    ];
    const steps = Object.fromEntries(names.map((n) => [n, standIn(n)])) as Record<StepName, StepImpl>;
    steps['image-linux.service'] = {
      title: imageLinuxStep.title,
      preflight: imageLinuxStep.preflight,
      async run(ctx) {
        const { stream } = await openArtifact(ctx);
        for await (const chunk of stream) void chunk;
      },
    };
    const lines: string[] = [];
    const out = await runAuto({
      cmdlineFile: join(dir, 'cmdline'),
      defaultsFile: join(dir, 'no-defaults'),
      taskDir: join(dir, 'task'),
      drives: async () => [],
      logPath: join(dir, 'install.jsonl'),
      write: (l) => lines.push(l),
      power: async () => {},
      machine: { uefi: true, efivars: false, filesystems: ['vfat', 'ext4'], serial },
      steps,
      webhookRetryDelaysMs: [10],
    });
    assert.equal(bodies.length, 1, 'one report');
    return { exitCode: out.exitCode, output: lines.join('\n'), blobs: bodies[0]!.blobs };
  } finally {
    await controller.close();
  }
}

test("the webhook's run record says which source served the blob, as the registries' access logs do", { skip: why }, async () => {
  await pull([]); // a warm cache
  const before = { origin: await blobGets(origin), mirror: await blobGets(mirror) };
  const warm = await reportedJob('MIRROR-WARM');
  assert.equal(warm.exitCode, 0, warm.output);
  assert.deepEqual(warm.blobs, [{ digest: pushed.digest, size: blob.length, sources: [{ source: 'mirror', host: mirror.host, bytes: blob.length }], fallbacks: [] }]);
  assert.equal(await blobGets(mirror), before.mirror + 1, 'the mirror served the blob once');
  assert.equal(await blobGets(origin), before.origin, 'the origin served no blob');

  await mirror.kill();
  try {
    const down = await reportedJob('MIRROR-DOWN');
    assert.equal(down.exitCode, 0, down.output);
    const [record] = down.blobs ?? [];
    assert.deepEqual(record?.sources, [{ source: 'origin', host: origin.host, bytes: blob.length }], down.output);
    assert.deepEqual(
      record?.fallbacks.map((f) => [f.from, f.to, f.at_byte]),
      [[mirror.host, origin.host, 0]],
    );
    assert.match(record!.fallbacks[0]!.reason, /ECONNREFUSED|refused/i);
    assert.equal(await blobGets(origin), before.origin + 1, 'the origin served the blob once');
  } finally {
    await mirror.restart();
  }
});
