// npm run bench:fleet: wall time of 1, 4, 8 and 16 installs at once from a busy origin (a gate that lets
// FLEET_DOWNLOADS blob downloads through at FLEET_MIBPS MiB/s each and answers the rest 429 Retry-After: 1),
// without a mirror, through a cold pull-through cache and through a warm one; and the bytes the origin served.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../ops/sizes.ts';
import { ensureBundle } from '../test/helpers/cli.ts';
import { missingPrerequisite } from '../test/helpers/env.ts';
import { runFleet, startGate, type Gate } from '../test/helpers/fleet.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../test/helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../test/helpers/rootfs.ts';

const SIZES = (process.env.FLEET_SIZES ?? '1,4,8,16').split(',').map(Number);
const IMAGE_MIB = Number(process.env.FLEET_IMAGE_MIB ?? 16);
const MIBPS = Number(process.env.FLEET_MIBPS ?? 8);
const DOWNLOADS = Number(process.env.FLEET_DOWNLOADS ?? 2);

type Mode = 'origin' | 'cold mirror' | 'warm mirror';

async function main() {
  const missing = missingPrerequisite(['docker-registry', 'skopeo', 'sgdisk', 'mkfs.ext4', 'zstd', 'setfacl']);
  if (missing) throw new Error(`bench:fleet ${missing}`);
  ensureBundle();
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-fleet-'));
  const origin = await startRegistry();
  const gate: Gate = await startGate(origin.url, { maxDownloads: DOWNLOADS, retryAfterSeconds: 1, bytesPerSecond: MIBPS * 1024 * 1024 });
  const mirrors: TestRegistry[] = [];
  try {
    await makeRootfsTree(join(work, 'tree'), IMAGE_MIB * 1024 * 1024);
    packRootfs(join(work, 'tree'), join(work, 'rootfs.tar.zst'), 'zstd');
    const pushed = await pushArtifact(origin, 'bench/rootfs:fleet', join(work, 'rootfs.tar.zst'), {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      artifactType: 'application/vnd.shoal.rootfs.tar.zst',
      title: 'rootfs.tar.zst',
    });
    const image = `${gate.host}/bench/rootfs:fleet`;
    console.log(`image ${formatBytes(pushed.size)}; origin behind a gate: ${DOWNLOADS} downloads at a time, ${MIBPS} MiB/s each, the rest 429 Retry-After: 1`);
    console.log('installs  mode          wall s   origin served   429s   ok');
    for (const count of SIZES) {
      for (const mode of ['origin', 'cold mirror', 'warm mirror'] as Mode[]) {
        let registry: Record<string, unknown> = { plain_http: [gate.host] };
        if (mode !== 'origin') {
          // A fresh cache per row, so "cold" is cold; the warm row warms it with one install first.
          const mirror = await startRegistry({ proxyOf: gate.url });
          mirrors.push(mirror);
          registry = { plain_http: [gate.host, mirror.host], mirrors: [mirror.host] };
          if (mode === 'warm mirror') await runFleet({ dir: work, name: `warmup-${count}`, count: 1, image, registry });
        }
        const bytes = gate.bytesServed;
        const away = gate.turnedAway;
        const fleet = await runFleet({ dir: work, name: `${mode.replace(' ', '-')}-${count}`, count, image, registry });
        await mirrors.pop()?.stop();
        console.log(
          `${String(count).padStart(8)}  ${mode.padEnd(12)} ${(fleet.wallMs / 1000).toFixed(1).padStart(7)}   ${formatBytes(gate.bytesServed - bytes).padStart(13)}   ${String(gate.turnedAway - away).padStart(4)}   ${fleet.succeeded}/${count}`,
        );
      }
    }
  } finally {
    for (const m of mirrors) await m.stop();
    await gate.close();
    await origin.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
