// A rack at once (issue 14 item 3): 16 installs through image-linux.service, each onto its own loop disk, from an
// origin registry behind a gate of the test's own that lets 2 blob downloads through at a time, at 1 MiB/s each,
// and answers the rest 429 Retry-After: 1 (a 4 MiB image: 32 s of downloads in all, twice the 15 s of patience the
// installer used to have). Then the same rack through a pull-through cache (docker-registry, proxy mode).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resultOf, type CliRun } from '../helpers/cli.ts';
import { startGate, runFleet, type Gate } from '../helpers/fleet.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { pushArtifact, startRegistry, untilCached, type PushedArtifact, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.ext4', 'zstd', 'setfacl', 'setfattr'];
const RACK = 16;
let work: string;
let origin: TestRegistry;
let gate: Gate;
let mirror: TestRegistry;
let pushed: PushedArtifact;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-fleet-'));
  origin = await startRegistry();
  gate = await startGate(origin.url, { maxDownloads: 2, retryAfterSeconds: 1, bytesPerSecond: 1024 * 1024 });
  mirror = await startRegistry({ proxyOf: gate.url });
  await makeRootfsTree(join(work, 'tree'), 4 * 1024 * 1024);
  packRootfs(join(work, 'tree'), join(work, 'rootfs.tar.zst'), 'zstd');
  pushed = await pushArtifact(origin, 'os/rootfs:fleet', join(work, 'rootfs.tar.zst'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'rootfs.tar.zst',
  });
});

after(async () => {
  await mirror?.stop();
  await gate?.close();
  await origin?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const image = () => `${gate.host}/os/rootfs:fleet`;
const servedOfBlob = () => gate.served.get(pushed.digest) ?? 0;
const failures = (runs: CliRun[]) =>
  runs
    .filter((r) => r.code !== 0)
    .map((r) => `exit ${r.code}: ${resultOf(r)?.failedStep ?? '(no result)'} ${JSON.stringify(resultOf(r)?.message ?? r.stderr.slice(-1500))}`)
    .join('\n');

test(`${RACK} installs at once against a busy origin (2 downloads at a time, 429 Retry-After: 1): all succeed`, { timeout: 600_000 }, async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const before = { served: servedOfBlob(), bytes: gate.bytesServed, away: gate.turnedAway };
  const fleet = await runFleet({ dir: work, name: 'origin', count: RACK, image: image(), registry: { plain_http: [gate.host] } });
  t.diagnostic(`${RACK} installs from the origin: ${(fleet.wallMs / 1000).toFixed(1)} s, ${gate.turnedAway - before.away} answers 429`);
  assert.equal(fleet.succeeded, RACK, failures(fleet.runs));
  assert.ok(fleet.wallMs < 300_000, `the rack took ${fleet.wallMs} ms`);
  assert.ok(gate.turnedAway > before.away, 'the gate really turned installs away');
  assert.ok(gate.peak <= 2);
  assert.equal(servedOfBlob() - before.served, RACK, 'each install downloaded the blob once');
  assert.equal(gate.bytesServed - before.bytes, RACK * pushed.size, 'no byte was served twice');
  const busyLines = fleet.runs.flatMap((r) => r.events).filter((e) => e.type === 'log' && e.message.includes('registry busy (HTTP 429, Retry-After 1 s)'));
  assert.ok(busyLines.length > 0, 'the installs said the registry was busy');
});

test(`the same rack through a pull-through cache: once one install warmed it, the origin serves no blob to the other ${RACK}`, { timeout: 600_000 }, async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const registry = { plain_http: [gate.host, mirror.host], mirrors: [mirror.host] };
  const start = servedOfBlob();
  const warm = await runFleet({ dir: work, name: 'warm', count: 1, image: image(), registry });
  assert.equal(warm.succeeded, 1, failures(warm.runs));
  await untilCached(mirror, pushed.digest, pushed.size);
  const cold = servedOfBlob() - start;
  assert.ok(cold >= 1, 'the cold cache fetched the blob from the origin');
  const rack = await runFleet({ dir: work, name: 'mirror', count: RACK, image: image(), registry });
  t.diagnostic(`warming the cache cost the origin ${cold} blob download(s); ${RACK} installs through the warm cache: ${(rack.wallMs / 1000).toFixed(1)} s`);
  assert.equal(rack.succeeded, RACK, failures(rack.runs));
  assert.equal(servedOfBlob() - start, cold, 'the warm cache served every install; the origin served the blob only to warm it');
  const fromMirror = rack.runs.filter((r) => r.events.some((e) => e.type === 'log' && e.message.includes(`from mirror ${mirror.host}`)));
  assert.equal(fromMirror.length, RACK, 'every install logged that the mirror served its blob');
  const recorded = rack.runs.filter((r) =>
    resultOf(r)?.blobs?.some((b) => b.digest === pushed.digest && b.sources.length === 1 && b.sources[0]!.host === mirror.host && b.sources[0]!.mirror),
  );
  assert.equal(recorded.length, RACK, "every install's result names the mirror as the blob's one source");
});
