// Paths in the target resolve within it, whatever the image's symlinks say: each test puts a hostile link in a
// fake root and a "host" directory beside it, and checks that nothing is read from, or written to, the host side.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootFixtures } from '../helpers/root-fixture.ts';
import { existsInRoot, mkdirInRoot, readFileInRoot, resolveInRoot, writeFileInRoot } from '../../ops/in-root.ts';
import { StepError } from '../../ops/runner.ts';

const freshRoot = rootFixtures('shoal-inroot-');

/** A fresh root and a host directory with a file the image must never reach; `host` is absolute. */
async function fixture(): Promise<{ root: string; host: string }> {
  const dirs = await freshRoot();
  await writeFile(join(dirs.host, 'secret'), 'host file\n');
  return dirs;
}

/** `../` enough times to climb from `root/<depth components>` to `/`, and further. */
const climb = (n: number) => '../'.repeat(n + 12);

const logs: string[] = [];
const log = (m: string) => void logs.push(m);

test('absolute symlinks are read as paths in the image', async () => {
  const { root, host } = await fixture();
  await mkdir(join(root, 'etc'));
  await symlink(host, join(root, 'etc/link-dir'));
  await symlink(join(host, 'secret'), join(root, 'etc/link-file'));
  assert.equal(await resolveInRoot(root, 'etc/link-dir/secret'), join(root, host, 'secret'));
  assert.equal(await resolveInRoot(root, '/etc/link-file'), join(root, host, 'secret'));
  assert.equal(await existsInRoot(root, 'etc/link-file'), false, 'the host file is not seen through the link');
  await assert.rejects(readFileInRoot(root, 'etc/link-file'), { code: 'ENOENT' });
  // The same link pointing at a path that exists in the image reads the image's file.
  await mkdir(join(root, host), { recursive: true });
  await writeFile(join(root, host, 'secret'), 'image file\n');
  assert.equal(String(await readFileInRoot(root, 'etc/link-file')), 'image file\n');
});

test('relative symlinks and .. never climb above the root', async () => {
  const { root, host } = await fixture();
  await mkdir(join(root, 'etc'));
  await symlink(`${climb(1)}${host.slice(1)}`, join(root, 'etc/up'));
  await symlink('../usr/lib/os-release', join(root, 'etc/os-release'));
  await mkdir(join(root, 'usr/lib'), { recursive: true });
  await writeFile(join(root, 'usr/lib/os-release'), 'ID=x\n');
  assert.equal(await resolveInRoot(root, 'etc/up/secret'), join(root, host, 'secret'));
  assert.equal(await resolveInRoot(root, '../../../../etc/os-release'), join(root, 'usr/lib/os-release'));
  assert.equal(await resolveInRoot(root, 'etc/../../..'), root);
  assert.equal(String(await readFileInRoot(root, 'etc/os-release')), 'ID=x\n', 'a harmless relative link still works');
  assert.equal(await existsInRoot(root, 'etc/up/secret'), false);
});

test('symlink loops end in a StepError naming the path, not a hang', async () => {
  const { root } = await fixture();
  await symlink('b', join(root, 'a'));
  await symlink('a', join(root, 'b'));
  await symlink('self/x', join(root, 'self'));
  for (const p of ['a/x', 'self']) {
    const err = await resolveInRoot(root, p).catch((e: unknown) => e);
    assert.ok(err instanceof StepError, String(err));
    assert.match(err.message, new RegExp(`/${p} in the image: too many levels of symbolic links`));
  }
  assert.equal(await existsInRoot(root, 'a'), false);
});

test('a symlinked leaf the installer owns is replaced by a regular file, and the log says so', async () => {
  const { root, host } = await fixture();
  await mkdir(join(root, 'etc'));
  await symlink(join(host, 'secret'), join(root, 'etc/fstab'));
  logs.length = 0;
  const written = await writeFileInRoot(root, 'etc/fstab', 'UUID=x / ext4 defaults 0 1\n', { log });
  assert.equal(written, join(root, 'etc/fstab'));
  assert.equal(await readFile(join(host, 'secret'), 'utf8'), 'host file\n', 'the host file is untouched');
  assert.ok((await lstat(join(root, 'etc/fstab'))).isFile());
  assert.equal(await readFile(join(root, 'etc/fstab'), 'utf8'), 'UUID=x / ext4 defaults 0 1\n');
  assert.ok(
    logs.some((m) => m.includes(`/etc/fstab in the image is a symlink (to ${join(host, 'secret')}): replaced with a regular file`)),
    logs.join('\n'),
  );
  assert.deepEqual((await readdir(join(root, 'etc'))).sort(), ['fstab'], 'no temporary file is left');
});

test('a dangling symlinked leaf (no host file yet) does not create one on the host', async () => {
  const { root, host } = await fixture();
  await mkdir(join(root, 'seed'), { recursive: true });
  await symlink(join(host, 'user-data'), join(root, 'seed/user-data'));
  await symlink(`${climb(1)}${host.slice(1)}/meta-data`, join(root, 'seed/meta-data'));
  await writeFileInRoot(root, 'seed/user-data', 'password: x\n', { mode: 0o600, log });
  await writeFileInRoot(root, 'seed/meta-data', 'instance-id: y\n', { mode: 0o600, log });
  assert.deepEqual(await readdir(host), ['secret']);
  assert.equal((await stat(join(root, 'seed/user-data'))).mode & 0o777, 0o600);
  assert.equal(await readFile(join(root, 'seed/meta-data'), 'utf8'), 'instance-id: y\n');
});

test('a directory symlink on the way is followed within the root, and missing directories are made there', async () => {
  const { root, host } = await fixture();
  await symlink(`${climb(0)}${host.slice(1)}`, join(root, 'etc'));
  await symlink(host, join(root, 'var'));
  await writeFileInRoot(root, 'etc/fstab', 'fstab\n', { log });
  const seed = await mkdirInRoot(root, 'var/lib/cloud/seed/nocloud', 0o700);
  assert.equal(seed, join(root, host, 'lib/cloud/seed/nocloud'));
  assert.equal((await stat(seed)).mode & 0o777, 0o700);
  assert.equal(await readFile(join(root, host, 'fstab'), 'utf8'), 'fstab\n');
  assert.deepEqual(await readdir(host), ['secret'], 'nothing was made on the host');
  assert.equal(await readlink(join(root, 'etc')), `${climb(0)}${host.slice(1)}`, 'the image keeps its link');
});

test('a hard-linked leaf is replaced, not written through (the user-data never lands in the other name)', async () => {
  const { root } = await fixture();
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/motd'), 'welcome\n', { mode: 0o644 });
  await link(join(root, 'etc/motd'), join(root, 'etc/user-data'));
  await writeFileInRoot(root, 'etc/user-data', 'password: x\n', { mode: 0o600, log });
  assert.equal(await readFile(join(root, 'etc/motd'), 'utf8'), 'welcome\n');
  assert.equal((await stat(join(root, 'etc/motd'))).mode & 0o777, 0o644);
});

test('an existing file keeps its mode unless one is given; a directory leaf or a FIFO is refused by name', async () => {
  const { root } = await fixture();
  await mkdir(join(root, 'etc/default'), { recursive: true });
  await writeFile(join(root, 'etc/default/grub'), 'GRUB_TIMEOUT=5\n', { mode: 0o640 });
  await writeFileInRoot(root, 'etc/default/grub', 'GRUB_TIMEOUT=1\n', { log });
  assert.equal((await stat(join(root, 'etc/default/grub'))).mode & 0o777, 0o640);
  await mkdir(join(root, 'etc/fstab'));
  await assert.rejects(writeFileInRoot(root, 'etc/fstab', 'x', { log }), (e: Error) => e instanceof StepError && /\/etc\/fstab in the image is a directory/.test(e.message));
  execFileSync('mkfifo', [join(root, 'etc/os-release')]);
  await assert.rejects(readFileInRoot(root, 'etc/os-release'), (e: Error) => e instanceof StepError && /\/etc\/os-release in the image is not a regular file/.test(e.message));
  await writeFile(join(root, 'etc/big'), Buffer.alloc(2048));
  await assert.rejects(readFileInRoot(root, 'etc/big', 1024), /more than the 1024 expected/);
});

test('a file where a directory should be is named', async () => {
  const { root } = await fixture();
  await writeFile(join(root, 'var'), 'not a dir');
  await assert.rejects(mkdirInRoot(root, 'var/lib/cloud'), (e: Error) => e instanceof StepError && /\/var\/lib\/cloud in the image: \/var is not a directory/.test(e.message));
  assert.equal(await existsInRoot(root, 'var/lib'), false);
});
