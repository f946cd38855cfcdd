// Hostile rootfs images through the real CLI, a real registry and a real loop disk: symlinks in the image that
// point at the host (absolute, or `../` past the root) must not carry the installer's writes (fstab, the NoCloud
// seed with its password) out of the target. Each image points into a fresh host directory of this test's own,
// which must be exactly as it was afterwards; the target gets the files, where its own links say inside it.
// Harmless absolute links (etc/resolv.conf, etc/mtab) install untouched. The bootloader step cannot run on a
// kernel without vfat: its paths are covered in test/unit/linux-target-paths.test.ts.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InstallEvent } from '../../ops/events.ts';
import { resultOf, runCli } from '../helpers/cli.ts';
import { inspectImage, loopsOf, makeDiskImage } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'mkfs.ext4', 'zstd', 'partprobe', 'blkid'];
const USER_DATA = '#cloud-config\npassword: hostile-image-secret-42\n';
let work: string;
/** The "host" side: a directory in /tmp the images point at, fresh for this run. */
let host: string;
let registry: TestRegistry;

/** Enough `../` to climb from anywhere in the target to `/`, and further. */
const climb = '../'.repeat(16);

async function baseTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'usr/lib'), { recursive: true });
  await writeFile(join(dir, 'usr/lib/os-release'), 'ID=hostile\nNAME="Hostile Test"\n');
  for (const d of ['boot/efi', 'tmp', 'proc', 'run']) await mkdir(join(dir, d), { recursive: true });
}

/** Every entry under `dir` with its content or link text: the host side before and after. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of (await readdir(dir, { recursive: true })).sort()) {
    const p = join(dir, e);
    const st = await lstat(p);
    out[e] = st.isSymbolicLink() ? `-> ${await readlink(p)}` : st.isFile() ? await readFile(p, 'utf8') : `dir ${st.mode & 0o7777}`;
  }
  return out;
}

const IMAGES: Record<string, (tree: string) => Promise<void>> = {
  /** The installer's own leaves as links: etc/fstab and the NoCloud seed files (absolute and relative); /dev too. */
  leaves: async (tree) => {
    await baseTree(tree);
    await mkdir(join(tree, 'etc'));
    await symlink('../usr/lib/os-release', join(tree, 'etc/os-release'));
    await symlink(`${host}/leaves/fstab`, join(tree, 'etc/fstab'));
    await mkdir(join(tree, 'var/lib/cloud/seed/nocloud'), { recursive: true });
    await symlink(`${host}/leaves/user-data`, join(tree, 'var/lib/cloud/seed/nocloud/user-data'));
    await symlink(`${climb}${host.slice(1)}/leaves/meta-data`, join(tree, 'var/lib/cloud/seed/nocloud/meta-data'));
    await symlink(`${host}/leaves/dev`, join(tree, 'dev'));
  },
  /** Whole directories as links: etc climbs out with `../`, var is absolute. */
  dirs: async (tree) => {
    await baseTree(tree);
    await symlink(`${climb}${host.slice(1)}/dirs/etc`, join(tree, 'etc'));
    await symlink(`${host}/dirs/var`, join(tree, 'var'));
  },
  /** What real images hold: absolute links into /run, relative ones into /proc. */
  harmless: async (tree) => {
    await baseTree(tree);
    await mkdir(join(tree, 'etc'));
    await mkdir(join(tree, 'dev'));
    await symlink('../usr/lib/os-release', join(tree, 'etc/os-release'));
    await symlink('/run/systemd/resolve/stub-resolv.conf', join(tree, 'etc/resolv.conf'));
    await symlink('../proc/self/mounts', join(tree, 'etc/mtab'));
  },
};

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-hostile-it-'));
  // Under /tmp itself, whatever TMPDIR says: the images name it as an absolute host path.
  host = await mkdtemp('/tmp/shoal-hostile-host-');
  // The host side exists, with a file where fstab would land: a write through the links would succeed, and show.
  await mkdir(join(host, 'leaves'));
  await writeFile(join(host, 'leaves/fstab'), 'HOST FSTAB, must not change\n');
  await mkdir(join(host, 'dirs/etc'), { recursive: true });
  await mkdir(join(host, 'dirs/var'), { recursive: true });
  registry = await startRegistry();
  for (const [name, make] of Object.entries(IMAGES)) {
    const tree = join(work, `tree-${name}`);
    await make(tree);
    packRootfs(tree, join(work, `${name}.tar.zst`), 'zstd');
    await pushArtifact(registry, `os-images/hostile:${name}`, join(work, `${name}.tar.zst`), {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      artifactType: 'application/vnd.shoal.rootfs.tar.zst',
      title: 'rootfs.tar.zst',
    });
  }
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (host) await rm(host, { recursive: true, force: true });
});

const logLines = (events: InstallEvent[]) => events.flatMap((e) => (e.type === 'log' ? [e.message] : []));

/** Install image `name` onto a fresh loop disk (up to the bootloader step), then look at its root filesystem. */
async function install(name: string, look: (root: string, logs: string[]) => Promise<void>): Promise<void> {
  const disk = makeDiskImage(join(work, `disk-${name}.img`), '512M');
  const recipePath = join(work, `recipe-${name}.json`);
  await writeFile(
    recipePath,
    JSON.stringify({
      task_target: 'install-linux.target',
      target_disk: disk,
      oci_url: `${registry.host}/os-images/hostile:${name}`,
      partition_layout: [
        { size: '64M', type_guid: 'ef00', format: 'vfat', label: 'EFI' },
        { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
      ],
      user_data: USER_DATA,
    }),
  );
  const hostBefore = await snapshot(host);
  const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json', '--stop-before', 'bootloader-linux.service']);
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
  assert.equal(resultOf(run)?.ok, true);
  assert.deepEqual(await snapshot(host), hostBefore, 'the host side is exactly as it was');
  assert.ok(!run.stdout.includes('hostile-image-secret-42'), 'the user-data is never logged');
  assert.equal(loopsOf(disk), '', 'the loop device was detached');
  const img = await inspectImage(disk, join(work, `mnt-${name}`));
  try {
    await look(await img.mount(2, 'root', 'ext4'), logLines(run.events));
  } finally {
    await img.release();
  }
}

async function assertSeed(dir: string): Promise<void> {
  const userData = join(dir, 'user-data');
  assert.ok((await lstat(userData)).isFile(), `${userData} is a regular file`);
  assert.equal(await readFile(userData, 'utf8'), USER_DATA);
  assert.equal((await stat(userData)).mode & 0o777, 0o600);
  assert.match(await readFile(join(dir, 'meta-data'), 'utf8'), /^instance-id: /);
}

test('an image whose etc/fstab, NoCloud user-data and meta-data are links to the host: the target gets real files', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  await install('leaves', async (root, logs) => {
    assert.ok((await lstat(join(root, 'etc/fstab'))).isFile(), 'etc/fstab is a regular file now');
    assert.match(await readFile(join(root, 'etc/fstab'), 'utf8'), /^UUID=\S+ \/ ext4 errors=remount-ro 0 1$/m);
    await assertSeed(join(root, 'var/lib/cloud/seed/nocloud'));
    for (const f of ['/etc/fstab', '/var/lib/cloud/seed/nocloud/user-data', '/var/lib/cloud/seed/nocloud/meta-data']) {
      assert.ok(
        logs.some((m) => m.startsWith(`${f} in the image is a symlink (to `) && m.endsWith('replaced with a regular file')),
        `${f}: ${logs.join('\n')}`,
      );
    }
    assert.equal(await readlink(join(root, 'dev')), `${host}/leaves/dev`, "the image's own dev link is left as it is");
  });
});

test('an image whose etc climbs out with ../ and whose var is an absolute host path: written where the links lead inside the target', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  await install('dirs', async (root) => {
    const inside = join(root, host, 'dirs');
    assert.match(await readFile(join(inside, 'etc/fstab'), 'utf8'), /^UUID=\S+ \/ ext4 /m);
    await assertSeed(join(inside, 'var/lib/cloud/seed/nocloud'));
    assert.equal(await readlink(join(root, 'etc')), `${climb}${host.slice(1)}/dirs/etc`);
  });
});

test('a harmless image with absolute and relative links (resolv.conf, mtab) installs, its links untouched', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  await install('harmless', async (root, logs) => {
    assert.equal(await readlink(join(root, 'etc/resolv.conf')), '/run/systemd/resolve/stub-resolv.conf');
    assert.equal(await readlink(join(root, 'etc/mtab')), '../proc/self/mounts');
    assert.ok((await lstat(join(root, 'etc/fstab'))).isFile());
    await assertSeed(join(root, 'var/lib/cloud/seed/nocloud'));
    assert.deepEqual(
      logs.filter((m) => m.includes('symlink')),
      [],
      'nothing was replaced',
    );
  });
});
