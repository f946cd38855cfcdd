// What bcdboot copies from the Windows partition to the ESP (docs/windows.md, "UEFI boot files"), found
// case-insensitively in the applied image. mcopy follows links in what it copies, so the copied trees must hold
// only files and directories: a link could carry a host file (or a FIFO, a hang) onto the ESP.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inImage } from '../in-root.ts';
import { StepError } from '../runner.ts';
import { findPath } from './ci-path.ts';

export const BOOT_EFI_DIR = 'Windows/Boot/EFI';
export const BOOT_FONTS_DIR = 'Windows/Boot/Fonts';
export const BOOT_RESOURCES_DIR = 'Windows/Boot/Resources';
export const BOOTMGFW = 'Windows/Boot/EFI/bootmgfw.efi';

export interface BootSources {
  /** Every entry of Windows/Boot/EFI (files and locale directories) -> EFI/Microsoft/Boot/. */
  efi: string[];
  /** Entries of Windows/Boot/Fonts -> EFI/Microsoft/Boot/Fonts/ (undefined: no such directory). */
  fonts?: string[];
  /** Entries of Windows/Boot/Resources -> EFI/Microsoft/Boot/Resources/ (bcdboot copies it when present). */
  resources?: string[];
  /** The boot manager, also copied to the removable-media path EFI/Boot/bootx64.efi. */
  bootmgfw: string;
}

/** Refuse anything in the tree at `path` but plain files and directories. */
async function assertPlainTree(root: string, path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isDirectory()) {
    for (const e of await readdir(path)) await assertPlainTree(root, join(path, e));
  } else if (!st.isFile()) {
    throw new StepError(
      `the applied image's ${inImage(root, path)} is ${st.isSymbolicLink() ? 'a link' : 'not a regular file'}: boot files are copied to the ESP as they are`,
      'the boot files of a Windows image are plain files; is this image what it claims to be?',
    );
  }
}

async function entries(root: string, rel: string): Promise<string[] | undefined> {
  const dir = await findPath(root, rel);
  if (!dir) return undefined;
  await assertPlainTree(root, dir);
  return (await readdir(dir)).sort().map((e) => join(dir, e));
}

export async function locateBootFiles(root: string): Promise<BootSources> {
  const bootmgfw = await findPath(root, BOOTMGFW);
  const efi = await entries(root, BOOT_EFI_DIR);
  if (!bootmgfw || !efi) {
    throw new StepError(
      `the applied image has no ${BOOTMGFW}: nothing to boot Windows with`,
      'is the WIM a Windows install image (install.wim) and wim_index the right image? wiminfo lists them',
    );
  }
  return { efi, fonts: await entries(root, BOOT_FONTS_DIR), resources: await entries(root, BOOT_RESOURCES_DIR), bootmgfw };
}
