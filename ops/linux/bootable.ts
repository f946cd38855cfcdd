// What the boot loader step needs from the image, checked once it is unpacked: a container image often has no
// kernel (the base images leave it out), and grub-install needs the image's own GRUB EFI modules.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot } from '../in-root.ts';
import { StepError } from '../runner.ts';

export interface BootFiles {
  kernel: string;
  initramfs: string;
  grubModules: string;
}

/** The entries of a directory of the image, read within the root; none when it is missing or not a directory. */
async function list(root: string, dir: string): Promise<string[]> {
  try {
    const host = await resolveInRoot(root, dir);
    if (!(await lstat(host)).isDirectory()) return [];
    return (await readdir(host)).sort();
  } catch {
    return [];
  }
}

async function isFile(root: string, path: string): Promise<boolean> {
  try {
    return (await lstat(await resolveInRoot(root, path))).isFile();
  } catch {
    return false;
  }
}

/** `/boot/vmlinuz-V` with `/boot/initrd.img-V` or `/boot/initramfs-V.img`, or `/usr/lib/modules/V/vmlinuz` with `initramfs.img` beside it. */
async function kernelPair(root: string): Promise<{ kernel?: string; initramfs?: string }> {
  const found: { kernel?: string; initramfs?: string } = {};
  for (const name of await list(root, 'boot')) {
    const version = /^vmlinuz-(.+)$/.exec(name)?.[1];
    if (!version || !(await isFile(root, `boot/${name}`))) continue;
    found.kernel = `/boot/${name}`;
    for (const initrd of [`initrd.img-${version}`, `initramfs-${version}.img`]) {
      if (await isFile(root, `boot/${initrd}`)) return { kernel: found.kernel, initramfs: `/boot/${initrd}` };
    }
  }
  for (const version of await list(root, 'usr/lib/modules')) {
    const dir = `usr/lib/modules/${version}`;
    if (!(await isFile(root, `${dir}/vmlinuz`))) continue;
    found.kernel ??= `/${dir}/vmlinuz`;
    if (await isFile(root, `${dir}/initramfs.img`)) return { kernel: `/${dir}/vmlinuz`, initramfs: `/${dir}/initramfs.img` };
  }
  return found;
}

const GRUB_MODULE_DIRS = ['usr/lib/grub/x86_64-efi', 'usr/lib/grub2/x86_64-efi'];

export const CONTAINERFILE_HINT =
  'add them to the Containerfile: Debian/Ubuntu `RUN apt-get install -y linux-image-amd64 initramfs-tools grub-efi-amd64` ' +
  '(Ubuntu: linux-image-generic), Fedora/EL `RUN dnf install -y kernel grub2-efi-x64 grub2-efi-x64-modules grub2-tools`';

/** Kernel, initramfs and GRUB's x86_64-efi modules, or a StepError naming what is missing and what to add. */
export async function checkBootable(root: string): Promise<BootFiles> {
  const { kernel, initramfs } = await kernelPair(root);
  let grubModules: string | undefined;
  for (const dir of GRUB_MODULE_DIRS) {
    if ((await list(root, dir)).some((m) => m.endsWith('.mod'))) {
      grubModules = `/${dir}`;
      break;
    }
  }
  const missing = [
    kernel ? '' : 'a kernel (/boot/vmlinuz-* or /usr/lib/modules/*/vmlinuz)',
    !kernel || initramfs ? '' : `an initramfs for ${kernel} (/boot/initrd.img-* or /boot/initramfs-*.img, or initramfs.img beside the vmlinuz)`,
    grubModules ? '' : `GRUB's EFI modules (${GRUB_MODULE_DIRS.map((d) => `/${d}`).join(' or ')})`,
  ].filter(Boolean);
  if (missing.length) throw new StepError(`the image cannot boot: it lacks ${missing.join(', ')}`, CONTAINERFILE_HINT);
  return { kernel: kernel!, initramfs: initramfs!, grubModules: grubModules! };
}

export const describeBootable = () => `check the image for a kernel, its initramfs and GRUB's x86_64-efi modules (${join('/usr/lib/grub', 'x86_64-efi')})`;
