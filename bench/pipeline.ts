// npm run bench: our install pipeline against the plain shell pipeline, same artifact, same kind of disk, in one run.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBundle } from '../test/helpers/cli.ts';
import { makeDiskImage, sh } from '../test/helpers/disk.ts';
import { missingPrerequisite } from '../test/helpers/env.ts';
import { pushImage, type ImageSpec } from '../test/helpers/oci-image.ts';
import { pushArtifact, startRegistry } from '../test/helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../test/helpers/rootfs.ts';
import { PREFETCH_ENV } from '../ops/linux/layers.ts';

const CACHE = process.env.SHOAL_TEST_CACHE ?? '/var/cache/shoal-install-test';
const UNPACKED_MB = Number(process.env.BENCH_ROOTFS_MB ?? 600);

/** A rootfs of UNPACKED_MB: a third incompressible, the rest many small text files, like a real OS tree. */
async function benchRootfs(): Promise<string> {
  const out = join(CACHE, `bench-rootfs-${UNPACKED_MB}mb-v1.tar.zst`);
  if (existsSync(out)) return out;
  await mkdir(CACHE, { recursive: true });
  const tree = await mkdtemp(join(tmpdir(), 'bench-tree-'));
  await makeRootfsTree(tree, Math.floor((UNPACKED_MB / 3) * 1024 * 1024));
  const textMb = UNPACKED_MB - UNPACKED_MB / 3;
  sh(`cd ${tree}/usr/lib && mkdir -p text && cd text && for d in $(seq 1 ${Math.ceil(textMb / 4)}); do mkdir d$d; for f in $(seq 1 64); do head -c 49152 /dev/urandom | base64 -w 76 | tr 'A-M' 'a-m' > d$d/f$f.txt; done; done`);
  packRootfs(tree, `${out}.tmp`, 'zstd');
  sh(`mv ${out}.tmp ${out}`);
  await rm(tree, { recursive: true, force: true });
  return out;
}

/**
 * The same tree as five layers, as a Containerfile would make it: the base, the incompressible blob, and the
 * text files in three parts (uncompressed tars, cached; zstd when pushed).
 */
function benchLayers(blobFile: string): ImageSpec {
  const dir = join(CACHE, `bench-layers-${UNPACKED_MB}mb-v1`);
  const tars = [1, 2, 3, 4, 5].map((n) => join(dir, `layer${n}.tar`));
  if (!tars.every((t) => existsSync(t))) {
    sh(`rm -rf ${dir} && mkdir -p ${dir}/tree && zstd -dc ${blobFile} | tar -x --numeric-owner -C ${dir}/tree`);
    const t = `tar --create --numeric-owner --xattrs --xattrs-include='*' --acls -C ${dir}/tree`;
    sh(`${t} --exclude=./usr/lib/text --exclude=./usr/lib/blob.bin -f ${tars[0]} .`);
    sh(`${t} -f ${tars[1]} ./usr/lib/blob.bin`);
    sh(`cd ${dir}/tree && ls -d usr/lib/text/d* | sort -V | awk '{ print "./" $0 > "${dir}/part" (NR % 3) }'`);
    for (const [i, part] of ['part0', 'part1', 'part2'].entries()) sh(`${t} -f ${tars[i + 2]} -T ${dir}/${part}`);
    sh(`rm -rf ${dir}/tree ${dir}/part*`);
  }
  return { layers: tars.map((tar) => ({ tar, compression: 'zstd' as const })) };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Timed {
  ms: number;
  peakKiB: number;
  /** CPU time the whole machine spent meanwhile (the pipeline's processes and the kernel's work for them). */
  cpuMs: number;
  output: string;
}

/** Busy CPU time of the whole machine so far (/proc/stat: all but idle and iowait), in ms. */
function machineCpuMs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const ticks = fields.map(Number);
  const busy = ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!;
  return (busy * 1000) / 100;
}

/** Wall time of a child, and its peak RSS from /usr/bin/time (GNU time's %M, KiB). */
function timed(cmd: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const cpu0 = machineCpuMs();
    const child = spawn('/usr/bin/time', ['-f', 'PEAK_RSS_KIB=%M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}:\n${output.slice(-2000)}`));
      resolve({ ms: Date.now() - t0, peakKiB: Number(/PEAK_RSS_KIB=(\d+)/.exec(output)?.[1] ?? 0), cpuMs: machineCpuMs() - cpu0, output });
    });
  });
}

async function main() {
  const missing = missingPrerequisite(['docker-registry', 'skopeo', 'sgdisk', 'zstd', 'curl', '/usr/bin/time']);
  if (missing) throw new Error(`bench ${missing}`);
  const bundle = ensureBundle();
  const blobFile = await benchRootfs();
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-'));
  const registry = await startRegistry();
  try {
    const pushed = await pushArtifact(registry, 'bench/rootfs:1', blobFile, {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      artifactType: 'application/vnd.shoal.rootfs.tar.zst',
      title: 'rootfs.tar.zst',
    });
    const layered = await pushImage(registry, 'bench/rootfs:5layers', benchLayers(blobFile));
    const size = `${Math.ceil((UNPACKED_MB * 2.2) / 1024) + 1}G`;
    const blobUrl = `http://${registry.host}/v2/bench/rootfs/blobs/${pushed.digest}`;

    // Ours: the whole headless install up to the bootloader (which this kernel cannot run).
    const runOurs = async (i: number, tag = '1', env: string[] = []) => {
      const disk = makeDiskImage(join(work, `ours-${i}.img`), size);
      const recipe = join(work, `recipe-${i}.json`);
      await writeFile(recipe, JSON.stringify({
        task_target: 'install-linux.target',
        target_disk: disk,
        oci_url: `${registry.host}/bench/rootfs:${tag}`,
        partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
      }));
      const r = await timed('env', [...env, 'node', bundle, 'install', '--recipe', recipe, '--yes', '--stop-before', 'bootloader-linux.service', '--log', join(work, `bench-${i}.jsonl`)]);
      await rm(disk);
      return r;
    };

    // The shell: the same partition and mkfs, then curl | zstd | tar.
    const runShell = async (i: number) => {
      const disk = makeDiskImage(join(work, `shell-${i}.img`), size);
      const mnt = join(work, 'mnt');
      const script = `set -euo pipefail
loop=$(losetup --find --show --partscan ${disk})
trap 'umount ${mnt} 2>/dev/null || true; losetup -d $loop' EXIT
wipefs --all --force $loop >/dev/null
sgdisk --zap-all $loop >/dev/null || true
sgdisk --clear --new=1:2048:0 --typecode=1:8304 $loop >/dev/null
partprobe $loop
while [ ! -b \${loop}p1 ]; do sleep 0.1; done
mkfs.ext4 -F -q -L root \${loop}p1
mkdir -p ${mnt} && mount \${loop}p1 ${mnt}
curl -sSf ${blobUrl} | zstd -dc | tar -x --numeric-owner --xattrs --xattrs-include='*' --acls -C ${mnt}
`;
      const r = await timed('bash', ['-c', script]);
      await rm(disk);
      return r;
    };

    // One run each is at the mercy of the page cache and the other run's writeback: read the blob once so both
    // find it cached, sync before every run, alternate which goes first, and compare medians.
    sh(`curl -sSf ${blobUrl} -o /dev/null`);
    const ours: Timed[] = [];
    const shell: Timed[] = [];
    const five: Timed[] = [];
    const fiveSerial: Timed[] = [];
    const fiveAhead: Timed[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const runFive = (n: number) => runOurs(n, '5layers');
      const runFiveSerial = (n: number) => runOurs(n, '5layers', [`${PREFETCH_ENV}=0`]);
      const runFiveAhead = (n: number) => runOurs(n, '5layers', [`${PREFETCH_ENV}=32`]);
      const pairs: [Timed[], (i: number) => Promise<Timed>][] = [[ours, runOurs], [shell, runShell], [five, runFive], [fiveSerial, runFiveSerial], [fiveAhead, runFiveAhead]];
      const order = i % 2 === 0 ? pairs : [...pairs].reverse();
      for (const [into, run] of order) {
        sh('sync');
        into.push(await run(i));
      }
    }

    const blobMiB = (await stat(blobFile)).size / 1024 / 1024;
    const oursMs = median(ours.map((r) => r.ms));
    const shellMs = median(shell.map((r) => r.ms));
    const peakMiB = Math.max(...ours.map((r) => r.peakKiB)) / 1024;
    const runs = (rs: Timed[]) => rs.map((r) => seconds(r.ms)).join(', ');
    console.log(`artifact: ${blobMiB.toFixed(0)} MiB zstd, ${UNPACKED_MB} MB unpacked; ${ROUNDS} rounds, alternating which runs first`);
    const cpu = (rs: Timed[]) => seconds(median(rs.map((r) => r.cpuMs)));
    console.log(`shoal-install: median ${seconds(oursMs)} s (${runs(ours)}), CPU ${cpu(ours)} s, peak RSS ${peakMiB.toFixed(0)} MiB`);
    console.log(`shell pipeline (curl | zstd -dc | tar -x): median ${seconds(shellMs)} s (${runs(shell)}), CPU ${cpu(shell)} s`);
    console.log(`(CPU: busy time of the whole machine during the run, ${cpus().length} CPUs)`);
    console.log(`ratio (ours / shell, medians): ${(oursMs / shellMs).toFixed(3)}  (target <= 1.15; peak RSS target <= 150 MiB)`);
    const layerCount = layered.layerDigests.length;
    const peak = (rs: Timed[]) => (Math.max(...rs.map((r) => r.peakKiB)) / 1024).toFixed(0);
    console.log(`five-layer image (same tree, ${layerCount} zstd layers): median ${seconds(median(five.map((r) => r.ms)))} s (${runs(five)}), CPU ${cpu(five)} s, peak RSS ${peak(five)} MiB`);
    for (const [label, rs] of [['no layer fetched ahead', fiveSerial], ['32 MiB fetched ahead', fiveAhead]] as const) {
      console.log(`five-layer image, ${label} (${PREFETCH_ENV}=${rs === fiveSerial ? 0 : 32}): median ${seconds(median(rs.map((r) => r.ms)))} s (${runs(rs)}), peak RSS ${peak(rs)} MiB`);
    }
  } finally {
    await registry.stop();
    execFileSync('bash', ['-c', `umount ${join(work, 'mnt')} 2>/dev/null; true`]);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
