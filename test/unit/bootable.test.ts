// The bootability check on real trees in a temp dir: what counts as a kernel, an initramfs and GRUB's modules,
// and that the image's symlinks are followed within its root, never onto the host.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { checkBootable } from '../../ops/linux/bootable.ts';
import { StepError } from '../../ops/runner.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tree(files: Record<string, string | { link: string }>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bootable-'));
  dirs.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    if (typeof content === 'string') await writeFile(join(root, path), content);
    else await symlink(content.link, join(root, path));
  }
  return root;
}

const GRUB = { 'usr/lib/grub/x86_64-efi/normal.mod': 'mod' };

test('Debian layout: /boot/vmlinuz-V with /boot/initrd.img-V; Fedora: initramfs-V.img; bootc: /usr/lib/modules/V/vmlinuz + initramfs.img', async () => {
  const debian = await tree({ 'boot/vmlinuz-6.1.0-13-amd64': 'k', 'boot/initrd.img-6.1.0-13-amd64': 'i', ...GRUB });
  assert.deepEqual(await checkBootable(debian), { kernel: '/boot/vmlinuz-6.1.0-13-amd64', initramfs: '/boot/initrd.img-6.1.0-13-amd64', grubModules: '/usr/lib/grub/x86_64-efi' });
  const fedora = await tree({ 'boot/vmlinuz-6.5.6-300.fc39.x86_64': 'k', 'boot/initramfs-6.5.6-300.fc39.x86_64.img': 'i', 'usr/lib/grub2/x86_64-efi/normal.mod': 'm' });
  assert.equal((await checkBootable(fedora)).initramfs, '/boot/initramfs-6.5.6-300.fc39.x86_64.img');
  const bootc = await tree({ 'usr/lib/modules/6.8.0/vmlinuz': 'k', 'usr/lib/modules/6.8.0/initramfs.img': 'i', ...GRUB });
  assert.equal((await checkBootable(bootc)).kernel, '/usr/lib/modules/6.8.0/vmlinuz');
});

test('a container image without kernel, initramfs or GRUB modules: a StepError naming each, with what to add to the Containerfile', async () => {
  const bare = await tree({ 'etc/os-release': 'ID=debian\n' });
  await assert.rejects(checkBootable(bare), (e: unknown) => {
    assert.ok(e instanceof StepError);
    assert.match(e.message, /lacks a kernel \(.*\), GRUB's EFI modules/);
    assert.match(e.hint ?? '', /Containerfile: .*linux-image-amd64 initramfs-tools grub-efi-amd64/);
    return true;
  });
  const noInitrd = await tree({ 'boot/vmlinuz-6.1.0': 'k', ...GRUB });
  await assert.rejects(checkBootable(noInitrd), /lacks an initramfs for \/boot\/vmlinuz-6\.1\.0/);
  const noGrub = await tree({ 'boot/vmlinuz-6.1.0': 'k', 'boot/initrd.img-6.1.0': 'i', 'usr/lib/grub/x86_64-efi/README': 'no modules' });
  await assert.rejects(checkBootable(noGrub), /lacks GRUB's EFI modules/);
});

test("the image's symlinks resolve within its root: /boot -> the host's /boot finds nothing of the host", async () => {
  const host = await tree({ 'boot/vmlinuz-host': 'k', 'boot/initrd.img-host': 'i', ...GRUB });
  const image = await tree({ boot: { link: join(host, 'boot') }, usr: { link: join(host, 'usr') } });
  await assert.rejects(checkBootable(image), /lacks a kernel/);
  const relative = await tree({ 'usr/boot/vmlinuz-1': 'k', 'usr/boot/initrd.img-1': 'i', boot: { link: 'usr/boot' }, ...GRUB });
  assert.equal((await checkBootable(relative)).kernel, '/boot/vmlinuz-1');
});
