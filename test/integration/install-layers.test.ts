// Container images of several layers installed from the real registry onto loop disks: every whiteout rule, a
// hard link into an earlier layer, a file replacing a directory and the other way round, builders' placeholder
// files, mixed compression; checked file by file against the tree the layers describe. Then the platform of an
// index, an index without this machine's platform (refused, disk unchanged), and a layer that would write on
// the host through an earlier layer's symlink (refused, host untouched).
import assert from 'node:assert/strict';
import { chmod, chown, link, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { openRegistry } from '../../ops/console-registry.ts';
import { resultOf, runCli } from '../helpers/cli.ts';
import { inspectImage, makeDiskImage, sh, sha256File } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { layerTar, pushImage, pushIndex, type ImageSpec } from '../helpers/oci-image.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'zstd', 'pigz'];
const machineArch = process.arch === 'arm64' ? 'arm64' : 'amd64';
const otherArch = machineArch === 'amd64' ? 'arm64' : 'amd64';
let work: string;
let registry: TestRegistry;
let hostSide: string;
const layered: ImageSpec = { layers: [] };

async function put(root: string, path: string, content: string | { link: string } | { hardlink: string } | 'dir') {
  const at = join(root, path);
  await mkdir(content === 'dir' ? at : dirname(at), { recursive: true });
  if (content === 'dir') return;
  if (typeof content === 'string') await writeFile(at, content);
  else if ('link' in content) await symlink(content.link, at);
  else await link(join(root, content.hardlink), at);
}

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-layers-'));
  registry = await startRegistry();
  hostSide = join(work, 'host-side');
  await mkdir(hostSide);
  await writeFile(join(hostSide, 'victim'), 'must stay\n');

  // Layer 1 (gzip): the base.
  const l1 = join(work, 'l1');
  await put(l1, 'usr/lib/os-release', 'ID=layered\nNAME="Layered Test"\n');
  await put(l1, 'etc/os-release', { link: '../usr/lib/os-release' });
  await put(l1, 'etc/hosts', '127.0.0.1 base-host\n');
  await put(l1, 'etc/resolv.conf', 'nameserver 192.0.2.53\n');
  await put(l1, 'etc/hostname', 'base\n');
  await put(l1, 'gone/file', 'whited out\n');
  await put(l1, 'gone/sub/deep', 'whited out\n');
  await put(l1, 'opq/a', 'hidden by opaque\n');
  await put(l1, 'opq/sub/c', 'hidden by opaque\n');
  await put(l1, 'keep/x', 'kept\n');
  await put(l1, 'todir', 'a file that becomes a directory\n');
  await put(l1, 'tofile/inner/f', 'a directory that becomes a file\n');
  await put(l1, 'usr/bin/tool', '#!/bin/sh\necho tool\n');
  await put(l1, 'redo/old', 'whited out, then the directory comes back\n');
  await put(l1, 'lib', { link: 'usr/lib' });
  await put(l1, 'abs', { link: '/usr/lib' });
  await put(l1, 'wsym', { link: hostSide });
  layered.layers.push({ tar: layerTar(l1, join(work, 'l1.tar')), compression: 'gzip' });

  // Layer 2 (zstd): whiteouts, opaque directory, replacements, a hard link to layer 1's file, builder placeholders.
  const l2 = join(work, 'l2');
  await put(l2, 'gone', 'dir');
  await rm(join(l2, 'gone'), { recursive: true });
  await put(l2, '.wh.gone', '');
  await put(l2, 'opq/.wh..wh..opq', '');
  await put(l2, 'opq/new', "this layer's\n");
  await put(l2, 'todir/inside', 'now a directory\n');
  await put(l2, 'tofile', 'now a file\n');
  await put(l2, '.wh.redo', '');
  await put(l2, 'redo/new', 'back\n');
  await put(l2, '.wh.nothing-below', '');
  await put(l2, 'etc/hosts', '');
  await put(l2, 'etc/resolv.conf', '');
  await put(l2, '.dockerenv', '');
  await put(l2, 'srv/owned', 'numeric owner and mode\n');
  await chown(join(l2, 'srv/owned'), 1234, 5678);
  await chmod(join(l2, 'srv/owned'), 0o640);
  await put(l2, 'usr/bin/tool', '#!/bin/sh\necho tool\n');
  await put(l2, 'usr/bin/tool-hl', { hardlink: 'usr/bin/tool' });
  const l2tar = layerTar(l2, join(work, 'l2.tar'));
  // The hard link's target stays in layer 1 only: delete it from this archive, leaving the link entry.
  sh(`tar --delete -f ${l2tar} ./usr/bin/tool`);
  // Written through layer 1's symlinks with no entry for the linked directory itself: lib -> usr/lib (relative,
  // followed within the target) and a whiteout below wsym -> the host (applied within the target: removes nothing).
  await put(join(work, 'l2extra'), 'lib/extra', 'through the relative link\n');
  await put(join(work, 'l2extra'), 'wsym/.wh.victim', '');
  sh(`tar --numeric-owner -C ${join(work, 'l2extra')} -rf ${l2tar} ./lib/extra ./wsym/.wh.victim`);
  layered.layers.push({ tar: l2tar, compression: 'zstd' });

  // Layer 3 (uncompressed): removes the hard link's original, leaves hostname empty.
  const l3 = join(work, 'l3');
  await put(l3, 'usr/bin/.wh.tool', '');
  await put(l3, 'etc/hostname', '');
  await put(l3, 'new/file', 'layer three\n');
  layered.layers.push({ tar: layerTar(l3, join(work, 'l3.tar')), compression: 'none' });
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The tree the three layers describe, written out by hand. */
async function expectedTree(dir: string) {
  await put(dir, 'usr/lib/os-release', 'ID=layered\nNAME="Layered Test"\n');
  await put(dir, 'etc/os-release', { link: '../usr/lib/os-release' });
  await put(dir, 'etc/hosts', '127.0.0.1 base-host\n');
  await put(dir, 'etc/resolv.conf', 'nameserver 192.0.2.53\n');
  await put(dir, 'etc/hostname', 'base\n');
  await put(dir, 'opq/new', "this layer's\n");
  await put(dir, 'keep/x', 'kept\n');
  await put(dir, 'todir/inside', 'now a directory\n');
  await put(dir, 'tofile', 'now a file\n');
  await put(dir, 'usr/bin/tool-hl', '#!/bin/sh\necho tool\n');
  await put(dir, 'redo/new', 'back\n');
  await put(dir, 'lib', { link: 'usr/lib' });
  await put(dir, 'abs', { link: '/usr/lib' });
  await put(dir, 'wsym', { link: hostSide });
  await put(dir, 'usr/lib/extra', 'through the relative link\n');
  await put(dir, 'srv/owned', 'numeric owner and mode\n');
  await chown(join(dir, 'srv/owned'), 1234, 5678);
  await chmod(join(dir, 'srv/owned'), 0o640);
  await put(dir, 'new/file', 'layer three\n');
}

/** Every path with its type, file mode, owner, link target and content hash; `etc/fstab` and `lost+found` are the installer's and mkfs's. */
const listing = (dir: string) =>
  sh(`cd ${dir} && find . -mindepth 1 \\( -path ./lost+found -o -path ./etc/fstab -o -path ./boot \\) -prune -o -printf '%p %y %m %U:%G %l\\n' | sort`)
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[1] === 'f' ? `${line} ${sh(`sha256sum < '${join(dir, line.split(' ')[0]!)}'`).slice(0, 16)}` : line));

function recipe(disk: string, reference: string) {
  return {
    task_target: 'install-linux.target',
    target_disk: disk,
    oci_url: `${registry.host}/${reference}`,
    partition_layout: [
      { size: '64M', type_guid: 'ef00', format: 'vfat', label: 'EFI' },
      { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
  };
}

async function install(name: string, reference: string, extra: string[] = ['--stop-before', 'bootloader-linux.service']) {
  const disk = makeDiskImage(join(work, `${name}.img`), '512M');
  const recipePath = join(work, `${name}.json`);
  await writeFile(recipePath, JSON.stringify(recipe(disk, reference)));
  const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json', ...extra, '--log', join(work, `${name}.jsonl`)]);
  return { disk, run, logs: run.events.flatMap((e) => (e.type === 'log' ? [`${e.level} ${e.message}`] : [])) };
}

async function rootTree<T>(disk: string, name: string, look: (root: string) => Promise<T>): Promise<T> {
  const img = await inspectImage(disk, join(work, `mnt-${name}`));
  try {
    return await look(await img.mount(2, 'root', 'ext4'));
  } finally {
    await img.release();
  }
}

test('three layers (gzip, zstd, tar): whiteouts, opaque dir, replacements, hard link to an earlier layer, placeholders; file by file', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const pushed = await pushImage(registry, 'os/layered:3', { ...layered, architecture: machineArch });
  const { disk, run, logs } = await install('layered', 'os/layered:3');
  assert.equal(run.code, 0, `${run.stderr}\n${logs.join('\n')}`);
  const result = resultOf(run)!;
  assert.equal(result.imageDigest, pushed.manifestDigest);

  const expected = join(work, 'expected');
  await expectedTree(expected);
  const installed = await rootTree(disk, 'layered', async (root) => listing(root));
  assert.deepEqual(installed, listing(expected));
  assert.ok(!installed.some((l) => l.includes('.wh.')), 'no whiteout file landed on the disk');
  assert.deepEqual(await readdir(hostSide), ['victim'], 'the whiteout below a symlink to the host removed nothing there');

  const progress = run.events.filter((e) => e.type === 'progress' && e.step === 'image-linux.service');
  const total = pushed.layerDigests.length && progress.at(-1)!;
  assert.ok(total && total.type === 'progress' && total.bytes === total.total, 'progress counts every layer to the end');
  const phases = new Set(progress.map((e) => (e.type === 'progress' ? e.phase : undefined)));
  assert.ok(phases.has('layer 3 of 3'), `progress names the layer: ${[...phases].join(', ')}`);
  for (const [i, digest] of pushed.layerDigests.entries()) assert.ok(logs.some((l) => l.includes(`layer ${i + 1} of 3: ${digest}`)));
  assert.ok(
    logs.some((l) => /^warn \/etc\/hosts: layer 2 left it empty .*restored the 20 bytes/.test(l)),
    logs.join('\n'),
  );
  assert.ok(logs.some((l) => /^warn \/etc\/hostname: layer 3 left it empty/.test(l)));
  assert.ok(logs.some((l) => /^warn \/\.dockerenv: removed/.test(l)));
  assert.ok(
    logs.some((l) => /layer 2 of 3 unpacked; 4 whiteouts and 1 opaque directories: .*; 1 directories replaced by files \(\/tofile\)/.test(l)),
    logs.join('\n'),
  );
});

test("an index: the manifest of this machine's platform is installed and reported", async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const mine = join(work, 'plat-mine');
  const other = join(work, 'plat-other');
  await put(mine, 'usr/lib/os-release', `ID=mine\n`);
  await put(mine, 'etc/os-release', { link: '../usr/lib/os-release' });
  await put(other, 'usr/lib/os-release', `ID=other\n`);
  await put(other, 'etc/os-release', { link: '../usr/lib/os-release' });
  const images: ImageSpec[] = [
    { layers: [{ tar: layerTar(other, join(work, 'other.tar')), compression: 'gzip' }], architecture: otherArch, ...(otherArch === 'arm64' ? { variant: 'v8' } : {}) },
    { layers: [{ tar: layerTar(mine, join(work, 'mine.tar')), compression: 'zstd' }], architecture: machineArch, ...(machineArch === 'arm64' ? { variant: 'v8' } : {}) },
  ];
  const index = await pushIndex(registry, 'os/multi:1', images);
  const { disk, run, logs } = await install('index', 'os/multi:1');
  assert.equal(run.code, 0, `${run.stderr}\n${logs.join('\n')}`);
  assert.equal(resultOf(run)!.imageDigest, index.manifestDigests[1]);
  // `plan` does not ask the registry: the image step's check names the chosen manifest and platform in its first
  // line (the registry client's lines aside), before the first step starts (before anything is written).
  const named = `image ${index.manifestDigests[1]} (linux/${machineArch}${machineArch === 'arm64' ? '/v8' : ''} from the index)`;
  const first = run.events.find((e) => e.type === 'log' && e.step === 'image-linux.service' && !e.message.startsWith('oci: '));
  assert.ok(first?.type === 'log' && first.message.startsWith(named), `${named}\n${logs.join('\n')}`);
  assert.ok(run.events.indexOf(first) < run.events.findIndex((e) => e.type === 'step-start'), 'named before the first step starts');
  assert.match(await rootTree(disk, 'index', async (root) => sh(`cat ${root}/usr/lib/os-release`)), /ID=mine/);
});

test("an index without this machine's platform is refused before anything is written, naming the platforms it has", async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const tree = join(work, 'plat-foreign');
  await put(tree, 'usr/lib/os-release', 'ID=foreign\n');
  const tar = layerTar(tree, join(work, 'foreign.tar'));
  await pushIndex(registry, 'os/foreign:1', [
    { layers: [{ tar, compression: 'gzip' }], architecture: otherArch },
    { layers: [{ tar, compression: 'gzip' }], architecture: 's390x' },
  ]);
  const disk = makeDiskImage(join(work, 'foreign.img'), '512M');
  sh(`printf 'precious bytes' | dd of=${disk} bs=1 seek=1048576 conv=notrunc status=none`);
  const before = await sha256File(disk);
  const recipePath = join(work, 'foreign.json');
  await writeFile(recipePath, JSON.stringify(recipe(disk, 'os/foreign:1')));
  const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json', '--stop-before', 'bootloader-linux.service', '--log', join(work, 'foreign.jsonl')]);
  assert.equal(run.code, 1, run.stderr);
  const fail = run.events.find((e) => e.type === 'step-fail');
  assert.ok(fail?.type === 'step-fail' && fail.step === 'image-linux.service');
  assert.match(fail.message, new RegExp(`no linux/${machineArch} entry \\(entries: linux/${otherArch}, linux/s390x\\)`));
  assert.ok(!run.events.some((e) => e.type === 'step-start'), 'no step started');
  assert.equal(await sha256File(disk), before, 'the disk is unchanged');
});

test("a layer writing through an earlier layer's symlink to the host is refused; nothing lands on the host", async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const base = join(work, 'esc1');
  await put(base, 'usr/lib/os-release', 'ID=esc\n');
  await put(base, 'etc/os-release', { link: '../usr/lib/os-release' });
  await put(base, 'esc', { link: hostSide });
  const upper = join(work, 'esc2');
  await put(upper, 'esc/pwned', 'written on the host?\n');
  await pushImage(registry, 'os/escape:1', {
    layers: [
      { tar: layerTar(base, join(work, 'esc1.tar')), compression: 'gzip' },
      { tar: layerTar(upper, join(work, 'esc2.tar'), './esc/pwned'), compression: 'gzip' },
    ],
  });
  const second = await install('escape', 'os/escape:1');
  assert.equal(second.run.code, 1);
  const fail = second.run.events.find((e) => e.type === 'step-fail');
  assert.ok(fail?.type === 'step-fail' && fail.step === 'image-linux.service');
  assert.match(fail.message, new RegExp(`layer 2 of 2: the entry /esc/pwned cannot be unpacked: /esc on its way is a symlink to ${hostSide}`));
  assert.deepEqual(await readdir(hostSide), ['victim'], 'nothing was written on the host');
});

test("the console's image facts come from the index, manifest and config alone: platform digest, layers, total size, OS from labels", async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const tree = join(work, 'facts');
  await put(tree, 'usr/lib/os-release', 'ID=facts\n');
  const tar = layerTar(tree, join(work, 'facts.tar'));
  const labels = { 'org.opencontainers.image.title': 'Debian bootc', 'org.opencontainers.image.version': '13.2' };
  const spec = (architecture: string): ImageSpec => ({
    layers: [
      { tar, compression: 'gzip' },
      { tar, compression: 'zstd' },
    ],
    architecture,
    labels,
  });
  const index = await pushIndex(registry, 'os/facts:1', [spec(otherArch), spec(machineArch)]);
  const browser = openRegistry(registry.host, { plainHttp: [registry.host] });
  try {
    const info = await browser.inspect(`${registry.host}/os/facts:1`);
    const sizes = sh(`pigz -c < ${tar} | wc -c; zstd -q -c < ${tar} | wc -c`).trim().split('\n').map(Number);
    assert.deepEqual(
      { digest: info.manifestDigest, platform: info.platform, layers: info.layers, size: info.size, osName: info.osName, os: info.os },
      { digest: index.manifestDigests[1], platform: `linux/${machineArch}`, layers: 2, size: sizes[0]! + sizes[1]!, osName: 'Debian bootc 13.2', os: 'linux' },
    );
  } finally {
    await browser.close();
  }
});
