// The firmware boot entry bcdboot would make. Only where efivars exist (a UEFI-booted maintenance OS);
// elsewhere the disk still boots through EFI/Boot/bootx64.efi.
import { readdir } from 'node:fs/promises';
import type { StepContext } from '../runner.ts';

export const WINDOWS_LABEL = 'Windows Boot Manager';
export const WINDOWS_LOADER = '\\EFI\\Microsoft\\Boot\\bootmgfw.efi';

export const efibootmgrCommand = (disk: string, espNumber: number) => [
  'efibootmgr',
  '--create',
  '--disk',
  disk,
  '--part',
  String(espNumber),
  '--label',
  WINDOWS_LABEL,
  '--loader',
  WINDOWS_LOADER,
];

export interface BootEntry {
  num: string;
  label: string;
  /** The GPT partition GUID in its HD(...) device path, when it has one. */
  partGuid?: string;
}

/** `efibootmgr -v` lines: "Boot0003* Windows Boot Manager<TAB>HD(1,GPT,<guid>,0x800,0x100000)/File(...)". */
export function parseBootEntries(text: string): BootEntry[] {
  const out: BootEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^Boot([0-9A-Fa-f]{4})\*?\s+([^\t]*?)\s*(?:\t(.*))?$/.exec(line);
    if (!m) continue;
    const guid = /HD\(\d+,GPT,([0-9a-fA-F-]{36})/.exec(m[3] ?? '')?.[1];
    out.push({ num: m[1]!, label: m[2]!, partGuid: guid?.toLowerCase() });
  }
  return out;
}

/**
 * The unique GUID of every partition the kernel knows, probed with blkid: without udev, `lsblk -o PARTUUID`
 * comes back empty, which would make every entry look stale.
 */
async function presentPartitionGuids(ctx: StepContext): Promise<Set<string>> {
  const names = await readdir('/sys/class/block');
  const parts = (await Promise.all(names.map(async (n) => ((await readdir(`/sys/class/block/${n}`)).includes('partition') ? n : undefined)))).filter(Boolean);
  const guids = new Set<string>();
  for (const name of parts) {
    const { stdout } = await ctx.exec(['blkid', '--probe', '--output', 'value', '--match-tag', 'PART_ENTRY_UUID', `/dev/${name}`], { okExitCodes: [2] });
    if (stdout.trim()) guids.add(stdout.trim().toLowerCase());
  }
  return guids;
}

/**
 * Old "Windows Boot Manager" entries whose partition no longer exists (this disk's previous install, now wiped)
 * are removed; entries for Windows on other disks, which still exist, are left alone.
 */
export async function writeFirmwareEntry(ctx: StepContext, disk: string, espNumber: number): Promise<void> {
  const present = await presentPartitionGuids(ctx);
  const entries = parseBootEntries((await ctx.exec(['efibootmgr', '-v'])).stdout);
  // Nothing probed (no blkid?) would make every entry look stale: then remove none.
  const stale = present.size ? entries.filter((x) => x.label === WINDOWS_LABEL && x.partGuid && !present.has(x.partGuid)) : [];
  for (const e of stale) {
    ctx.log(`removing the stale firmware entry Boot${e.num} "${e.label}" (its partition ${e.partGuid} is gone)`);
    await ctx.exec(['efibootmgr', '--quiet', '--bootnum', e.num, '--delete-bootnum']);
  }
  await ctx.exec(efibootmgrCommand(disk, espNumber));
}
