import { readdir, readFile } from 'node:fs/promises';
import { networkInterfaces, release } from 'node:os';
import { run } from './exec.ts';
import { exists } from './exists.ts';
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
  const decoded = await run(['dmidecode', '-s', 'system-serial-number']).then(
    (r) => r.stdout.trim(),
    () => '',
  );
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

export interface NetInterface {
  name: string;
  mac?: string;
  state?: string;
  addresses: string[];
}

/** What the console's Machine screen shows: the engine's facts and what sysfs, /proc and the kernel tell besides. */
export interface MachineInfo {
  serial: string;
  vendor?: string;
  product?: string;
  uefi: boolean;
  efivars: boolean;
  memoryBytes?: number;
  kernel: string;
  interfaces: NetInterface[];
  filesystems: string[];
}

const readText = (p: string) =>
  readFile(p, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );

/** Every network interface but lo: sysfs knows the ones without an address, node the addresses. */
async function readInterfaces(): Promise<NetInterface[]> {
  const byName = new Map<string, NetInterface>();
  const names = await readdir('/sys/class/net').catch(() => [] as string[]);
  for (const name of names.sort()) {
    if (name === 'lo') continue;
    const mac = await readText(`/sys/class/net/${name}/address`);
    const state = await readText(`/sys/class/net/${name}/operstate`);
    byName.set(name, { name, mac: mac || undefined, state: state || undefined, addresses: [] });
  }
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === 'lo' || !addrs) continue;
    const entry = byName.get(name) ?? { name, addresses: [] };
    entry.mac ??= addrs.find((a) => a.mac && a.mac !== '00:00:00:00:00:00')?.mac;
    entry.addresses.push(...addrs.filter((a) => !a.internal).map((a) => a.cidr ?? a.address));
    byName.set(name, entry);
  }
  return [...byName.values()];
}

export async function readMachineInfo(facts: MachineFacts): Promise<MachineInfo> {
  const mem = /^MemTotal:\s+(\d+)\s+kB/m.exec(await readText('/proc/meminfo'));
  return {
    serial: facts.serial,
    vendor: (await readText('/sys/class/dmi/id/sys_vendor')) || undefined,
    product: (await readText('/sys/class/dmi/id/product_name')) || undefined,
    uefi: facts.uefi,
    efivars: facts.efivars,
    memoryBytes: mem ? Number(mem[1]) * 1024 : undefined,
    kernel: release(),
    interfaces: await readInterfaces(),
    filesystems: facts.filesystems,
  };
}

export type PowerAction = 'poweroff' | 'reboot';

/** After an install: auto mode's shoal.poweroff/shoal.reboot, the console's Done screen. */
export async function systemPower(action: PowerAction): Promise<void> {
  await run(['systemctl', action]);
}
