import { access, readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { run } from './exec.ts';
import type { Format } from './recipe.ts';

export interface MachineFacts {
  /** Booted through UEFI firmware (`/sys/firmware/efi` exists). */
  uefi: boolean;
  /** efivarfs is there, so a firmware boot entry can be written. */
  efivars: boolean;
  /** Filesystems this kernel can mount now or after loading a module. */
  filesystems: Format[];
  serial: string;
}

const exists = (p: string) => access(p).then(() => true, () => false);

const MODULE_FILE: Partial<Record<Format, string>> = { vfat: '/vfat.ko', ext4: '/ext4.ko', xfs: '/xfs.ko', btrfs: '/btrfs.ko' };

async function mountableFilesystems(): Promise<Format[]> {
  const loaded = (await readFile('/proc/filesystems', 'utf8').catch(() => '')).split(/\s+/);
  const modules = await readFile(`/lib/modules/${release()}/modules.dep`, 'utf8').catch(() => '');
  return (Object.keys(MODULE_FILE) as Format[]).filter((f) => loaded.includes(f) || modules.includes(MODULE_FILE[f]!));
}

/** Shoal's order: PROVISIONER_SERIAL, DMI product serial, dmidecode, else "unknown". */
export async function machineSerial(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.PROVISIONER_SERIAL?.trim();
  if (fromEnv) return fromEnv;
  const dmi = (await readFile('/sys/class/dmi/id/product_serial', 'utf8').catch(() => '')).trim();
  if (dmi) return dmi;
  const decoded = await run(['dmidecode', '-s', 'system-serial-number']).then((r) => r.stdout.trim(), () => '');
  return decoded && !decoded.startsWith('#') ? decoded : 'unknown';
}

export async function machineFacts(): Promise<MachineFacts> {
  return {
    uefi: await exists('/sys/firmware/efi'),
    efivars: await exists('/sys/firmware/efi/efivars'),
    filesystems: await mountableFilesystems(),
    serial: await machineSerial(),
  };
}
