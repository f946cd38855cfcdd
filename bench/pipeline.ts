// npm run bench: the whole install (partition, image, config drive) and its image step against the same work done by
// the shell (sfdisk, mkfs, curl | zstd -dc | tar -x, sync), same artifact, same kind of disk, side by side in one run.
// BENCH_LOGS=DIR keeps the installs' JSON logs there.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ensureBundle, wrapperNodeFlags } from '../test/helpers/cli.ts';
import { makeDiskImage, sh } from '../test/helpers/disk.ts';
import { missingPrerequisite } from '../test/helpers/env.ts';
import { pushImage, type ImageSpec } from '../test/helpers/oci-image.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../test/helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../test/helpers/rootfs.ts';

const OWN_CPU = new URL('own-cpu.mjs', import.meta.url).pathname;
const CACHE = process.env.SHOAL_TEST_CACHE ?? '/var/cache/shoal-install-test';
/** The bench's image, and a larger one (0: left out) to show how the cost grows with the image. */
const UNPACKED_MB = Number(process.env.BENCH_ROOTFS_MB ?? 600);
const LARGE_MB = Number(process.env.BENCH_LARGE_ROOTFS_MB ?? 2048);

/** A rootfs of `mb` MB: a third incompressible, the rest many small text files, like a real OS tree. */
async function benchRootfs(mb: number): Promise<string> {
  const out = join(CACHE, `bench-rootfs-${mb}mb-v1.tar.zst`);
  if (existsSync(out)) return out;
  await mkdir(CACHE, { recursive: true });
  const tree = await mkdtemp(join(tmpdir(), 'bench-tree-'));
  await makeRootfsTree(tree, Math.floor((mb / 3) * 1024 * 1024));
  const textMb = mb - mb / 3;
  sh(
    `cd ${tree}/usr/lib && mkdir -p text && cd text && for d in $(seq 1 ${Math.ceil(textMb / 4)}); do mkdir d$d; for f in $(seq 1 64); do head -c 49152 /dev/urandom | base64 -w 76 | tr 'A-M' 'a-m' > d$d/f$f.txt; done; done`,
  );
  packRootfs(tree, `${out}.tmp`, 'zstd');
  sh(`mv ${out}.tmp ${out}`);
  await rm(tree, { recursive: true, force: true });
  return out;
}

/**
 * The same tree as five layers, as a Containerfile would make it: the base, the incompressible blob, and the
 * text files in three parts (uncompressed tars, cached; zstd when pushed).
 */
function benchLayers(blobFile: string, mb: number): ImageSpec {
  const dir = join(CACHE, `bench-layers-${mb}mb-v1`);
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
const TARGETS = { whole: 1.15, pipeline: 1.05, peakMiB: 150 };
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

interface Timed {
  ms: number;
  peakKiB: number;
  /** CPU time of the process tree (user + system of the command and every child it waited for), in ms. */
  cpuMs: number;
  output: string;
}

/** Wall time of a child, its tree's CPU time and its peak RSS, from GNU time. */
function timed(cmd: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'TIME peak=%M user=%U sys=%S', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}:\n${output.slice(-2000)}`));
      const m = /TIME peak=(\d+) user=([\d.]+) sys=([\d.]+)/.exec(output);
      if (!m) return reject(new Error(`no GNU time line in:\n${output.slice(-2000)}`));
      resolve({ ms: performance.now() - t0, peakKiB: Number(m[1]), cpuMs: (Number(m[2]) + Number(m[3])) * 1000, output });
    });
  });
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The install's steps from its JSON log: each step's duration, and the time outside them (start-up, unmounting). */
async function stepTimes(log: string, wallMs: number): Promise<Record<string, number>> {
  const steps: Record<string, number> = {};
  for (const line of (await readFile(log, 'utf8')).split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { type: string; step?: string; durationMs?: number };
    if (e.type === 'step-end' && e.step) steps[e.step] = e.durationMs!;
  }
  steps['outside the steps'] = wallMs - Object.values(steps).reduce((a, b) => a + b, 0);
  return steps;
}

/** `name=value` lines the shell prints with its phase times. */
const shellTimes = (out: string) => Object.fromEntries([...out.matchAll(/PHASE (\S+)=(\d+)$/gm)].map((m) => [m[1]!, Number(m[2]) / 1e6]));

const medians = (runs: Record<string, number>[]) =>
  Object.keys(runs[0] ?? {})
    .map((k) => `${k} ${seconds(median(runs.map((r) => r[k] ?? 0)))} s`)
    .join(', ');

/** The layout of the bench's installs, written by the shell as by shoal-install: ESP, config drive, root. */
const LAYOUT = [
  { size: '64M', type_guid: 'ef00', format: 'vfat', label: 'EFI' },
  { size: '16M', type_guid: '0700', format: 'vfat', label: 'cidata' },
  { size: '100%', type_guid: '8304', format: 'ext4', mountpoint: '/', label: 'root' },
];
const USER_DATA = '#cloud-config\nhostname: bench\n';

interface Measured {
  ours: Timed[];
  oursSteps: Record<string, number>[];
  /** The installer's own CPU time (node alone, without its children), in ms. */
  oursOwnCpuMs: number[];
  shell: Timed[];
  shellSteps: Record<string, number>[];
  verified: Timed[];
  verifiedSteps: Record<string, number>[];
  five: Timed[];
}

async function measure(registry: TestRegistry, work: string, mb: number, withLayers: boolean): Promise<{ m: Measured; blobFile: string }> {
  const blobFile = await benchRootfs(mb);
  const repo = `bench/rootfs${mb}`;
  const pushed = await pushArtifact(registry, `${repo}:1`, blobFile, {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'rootfs.tar.zst',
  });
  if (withLayers) await pushImage(registry, `${repo}:5layers`, benchLayers(blobFile, mb));
  const size = `${Math.ceil((mb * 2.2) / 1024) + 1}G`;
  const blobUrl = `http://${registry.host}/v2/${repo}/blobs/${pushed.digest}`;
  await writeFile(join(work, 'user-data'), USER_DATA);

  // Ours: the whole headless install up to the boot loader (which this kernel cannot run).
  const runOurs = async (i: number, tag = '1') => {
    const disk = makeDiskImage(join(work, `ours-${i}.img`), size);
    const recipe = join(work, `recipe-${i}.json`);
    const log = join(work, `bench-${mb}-${tag}-${i}.jsonl`);
    await writeFile(
      recipe,
      JSON.stringify({
        task_target: 'install-linux.target',
        target_disk: disk,
        oci_url: `${registry.host}/${repo}:${tag}`,
        partition_layout: LAYOUT,
        user_data: USER_DATA,
      }),
    );
    const r = await timed('node', [
      ...wrapperNodeFlags(),
      '--import',
      OWN_CPU,
      ensureBundle(),
      'install',
      '--recipe',
      recipe,
      '--yes',
      '--stop-before',
      'bootloader-linux.service',
      '--log',
      log,
    ]);
    await rm(disk);
    if (process.env.BENCH_LOGS) await copyFile(log, join(process.env.BENCH_LOGS, basename(log)));
    const own = /^OWN-CPU ms=(\d+)$/m.exec(r.output);
    if (!own) throw new Error(`no OWN-CPU line from the install:\n${r.output.slice(-2000)}`);
    return { r, steps: await stepTimes(log, r.ms), ownCpuMs: Number(own[1]) };
  };

  // The shell: the same table and filesystems, curl | zstd | tar, the user-data onto the config drive, writeback.
  const runShell = async (i: number, verify = false) => {
    const disk = makeDiskImage(join(work, `shell-${i}.img`), size);
    // The digest check every installer owes an untrusted registry, done the shell's way: tee into sha256sum.
    const hashing = verify ? `rm -f ${work}/hash; mkfifo ${work}/hash; sha256sum < ${work}/hash > ${work}/sum & hasher=$!` : 'true';
    const fetch = verify ? `curl -sSf ${blobUrl} | tee ${work}/hash` : `curl -sSf ${blobUrl}`;
    const check = verify ? `wait $hasher; [ "sha256:$(cut -d' ' -f1 ${work}/sum)" = ${pushed.digest} ]` : 'true';
    const mnt = join(work, 'mnt');
    const script = `set -euo pipefail
now() { date +%s%N; }
t0=$(now)
loop=$(losetup --find --show --partscan ${disk})
trap 'umount ${mnt} 2>/dev/null || true; losetup -d $loop' EXIT
printf 'label: gpt\\nsize=64M, type=U\\nsize=16M, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\\ntype=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\\n' |
  sfdisk --quiet --wipe always --wipe-partitions always --no-reread --no-tell-kernel $loop
partx --update $loop
while [ ! -b \${loop}p3 ]; do sleep 0.01; done
mkfs.vfat -F 32 -n EFI \${loop}p1 >/dev/null
mkfs.vfat -n cidata \${loop}p2 >/dev/null
mkfs.ext4 -F -q -L root \${loop}p3
t1=$(now)
mkdir -p ${mnt} && mount \${loop}p3 ${mnt}
${hashing}
${fetch} | zstd -dc | tar -x --numeric-owner --xattrs --xattrs-include='*' --acls -C ${mnt}
${check}
t2=$(now)
mcopy -i \${loop}p2 ${join(work, 'user-data')} ::user-data
sync -f ${mnt}
umount ${mnt}
t3=$(now)
echo "PHASE partition+mkfs=$((t1 - t0))"
echo "PHASE mount+curl|zstd|tar=$((t2 - t1))"
echo "PHASE config-drive+sync+umount=$((t3 - t2))"
`;
    const r = await timed('bash', ['-c', script]);
    await rm(disk);
    return { r, steps: shellTimes(r.output) };
  };

  // One run each is at the mercy of the page cache and the other run's writeback: read the blob once so both
  // find it cached, sync before every run, alternate which goes first, and compare medians.
  sh(`curl -sSf ${blobUrl} -o /dev/null`);
  const m: Measured = { ours: [], oursSteps: [], oursOwnCpuMs: [], shell: [], shellSteps: [], verified: [], verifiedSteps: [], five: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const runs: (() => Promise<void>)[] = [
      async () => {
        const { r, steps, ownCpuMs } = await runOurs(i);
        m.ours.push(r);
        m.oursSteps.push(steps);
        m.oursOwnCpuMs.push(ownCpuMs);
      },
      async () => {
        const { r, steps } = await runShell(i);
        m.shell.push(r);
        m.shellSteps.push(steps);
      },
      async () => {
        const { r, steps } = await runShell(i, true);
        m.verified.push(r);
        m.verifiedSteps.push(steps);
      },
      ...(withLayers ? [async () => void m.five.push((await runOurs(i, '5layers')).r)] : []),
    ];
    for (const run of i % 2 === 0 ? runs : [...runs].reverse()) {
      sh('sync');
      await run();
    }
  }
  return { m, blobFile };
}

async function report(m: Measured, blobFile: string, mb: number, load: string) {
  const blobBytes = (await stat(blobFile)).size;
  const GiB = 1024 ** 3;
  const oursMs = median(m.ours.map((r) => r.ms));
  const shellMs = median(m.shell.map((r) => r.ms));
  const cpu = (rs: Timed[]) => median(rs.map((r) => r.cpuMs));
  const peakMiB = (rs: Timed[]) => Math.max(...rs.map((r) => r.peakKiB)) / 1024;
  const runs = (rs: Timed[]) => rs.map((r) => seconds(r.ms)).join(', ');
  const imageMs = median(m.oursSteps.map((s) => s['image-linux.service'] ?? 0));
  const pipeMs = median(m.shellSteps.map((s) => s['mount+curl|zstd|tar'] ?? 0));
  const verifiedMs = median(m.verified.map((r) => r.ms));
  const verifiedPipeMs = median(m.verifiedSteps.map((s) => s['mount+curl|zstd|tar'] ?? 0));
  const whole = oursMs / shellMs;
  const pipeline = imageMs / pipeMs;
  const perGiB = (ms: number) => ((ms / 1000) * (GiB / blobBytes)).toFixed(2);
  console.log(`\n== image: ${(blobBytes / 2 ** 20).toFixed(0)} MiB zstd, ${mb} MB unpacked; ${ROUNDS} rounds, alternating which goes first; load ${load}`);
  console.log(`shoal-install install: median ${seconds(oursMs)} s (${runs(m.ours)}), CPU ${seconds(cpu(m.ours))} s, peak RSS ${peakMiB(m.ours).toFixed(0)} MiB`);
  console.log(`  steps (medians, JSON log): ${medians(m.oursSteps)}`);
  console.log(
    `shell (sfdisk, mkfs, curl | zstd -dc | tar -x, mcopy, sync): median ${seconds(shellMs)} s (${runs(m.shell)}), CPU ${seconds(cpu(m.shell))} s, peak RSS ${peakMiB(m.shell).toFixed(0)} MiB`,
  );
  console.log(`  parts (medians): ${medians(m.shellSteps)}`);
  console.log(
    `shell with the digest check (curl | tee FIFO | zstd -dc | tar -x, sha256sum < FIFO): median ${seconds(verifiedMs)} s (${runs(m.verified)}), CPU ${seconds(cpu(m.verified))} s`,
  );
  console.log(`  parts (medians): ${medians(m.verifiedSteps)}`);
  console.log(`(CPU: user + system time of each run's process tree; ${cpus().length} CPUs)`);
  console.log(`whole-install ratio (ours / shell): ${whole.toFixed(3)}  target <= ${TARGETS.whole}: ${verdict(whole <= TARGETS.whole)}`);
  console.log(`pipeline ratio (image-linux.service / mount + curl | zstd | tar): ${pipeline.toFixed(3)}  target <= ${TARGETS.pipeline}: ${verdict(pipeline <= TARGETS.pipeline)}`);
  console.log(
    `  against the shell with the digest check: whole ${(oursMs / verifiedMs).toFixed(3)}, pipeline ${(imageMs / verifiedPipeMs).toFixed(3)}; that shell against the plain one: whole ${(verifiedMs / shellMs).toFixed(3)}, pipeline ${(verifiedPipeMs / pipeMs).toFixed(3)}`,
  );
  console.log(`peak RSS: ${peakMiB(m.ours).toFixed(0)} MiB  target <= ${TARGETS.peakMiB} MiB: ${verdict(peakMiB(m.ours) <= TARGETS.peakMiB)}`);
  console.log(
    `CPU per GiB pulled: ours ${perGiB(cpu(m.ours))} s, shell ${perGiB(cpu(m.shell))} s, the installer's extra ${perGiB(cpu(m.ours) - cpu(m.shell))} s; node's own ${perGiB(median(m.oursOwnCpuMs))} s (median ${seconds(median(m.oursOwnCpuMs))} s a run, start-up included)`,
  );
  if (m.five.length) {
    console.log(
      `five-layer image (same tree, 5 zstd layers): median ${seconds(median(m.five.map((r) => r.ms)))} s (${runs(m.five)}), CPU ${seconds(cpu(m.five))} s, peak RSS ${peakMiB(m.five).toFixed(0)} MiB`,
    );
  }
}

async function main() {
  const missing = missingPrerequisite(['docker-registry', 'skopeo', 'sfdisk', 'partx', 'mkfs.vfat', 'mcopy', 'zstd', 'curl', '/usr/bin/time']);
  if (missing) throw new Error(`bench ${missing}`);
  ensureBundle();
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-'));
  const registry = await startRegistry();
  try {
    for (const [mb, withLayers] of [
      [UNPACKED_MB, true],
      [LARGE_MB, false],
    ] as const) {
      if (mb <= 0) continue;
      const load = loadavg();
      const { m, blobFile } = await measure(registry, work, mb, withLayers);
      await report(m, blobFile, mb, `${load} before, ${loadavg()} after`);
    }
  } finally {
    await registry.stop();
    execFileSync('bash', ['-c', `umount ${join(work, 'mnt')} 2>/dev/null; true`]);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
