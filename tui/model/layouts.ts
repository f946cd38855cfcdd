import type { Format } from '../../ops/recipe.ts';

/** One row of the layout editor: a recipe partition as the technician edits it (every field text). */
export interface PartitionDraft {
  size: string;
  type_guid: string;
  format: Format;
  label: string;
  mountpoint: string;
  /** Carried over from a recipe; the editor does not change it. */
  bootable?: boolean;
}

export type OsKind = 'linux' | 'windows';

export interface Preset {
  id: string;
  name: string;
  os: OsKind;
  parts: PartitionDraft[];
}

const p = (size: string, type_guid: string, format: Format, mountpoint = '', label = ''): PartitionDraft => ({ size, type_guid, format, mountpoint, label });

const ESP = p('512M', 'ef00', 'vfat', '/boot/efi', 'EFI');
const ROOT = p('100%', '8300', 'ext4', '/', 'root');

/** The Shoal documentation's layouts and the usual variations, per OS. */
export const PRESETS: Preset[] = [
  { id: 'esp-root', name: 'EFI + root', os: 'linux', parts: [ESP, ROOT] },
  { id: 'esp-swap-root', name: 'EFI + swap + root', os: 'linux', parts: [ESP, p('4G', '8200', 'swap', '', 'swap'), ROOT] },
  { id: 'esp-boot-root', name: 'EFI + /boot + root', os: 'linux', parts: [ESP, p('1G', '8300', 'ext4', '/boot', 'boot'), ROOT] },
  { id: 'esp-cidata-root', name: 'EFI + cidata + root', os: 'linux', parts: [ESP, p('16M', '0700', 'vfat', '', 'cidata'), ROOT] },
  {
    id: 'windows',
    name: 'EFI + MSR + Windows',
    os: 'windows',
    parts: [p('500M', 'ef00', 'vfat', '', 'SYSTEM'), p('16M', '0c01', 'raw'), p('100%', '0700', 'ntfs', '', 'Windows')],
  },
];

export const presetsFor = (os: OsKind) => PRESETS.filter((x) => x.os === os);

export const cloneParts = (parts: PartitionDraft[]) => parts.map((x) => ({ ...x }));

/** A new row for "add": a Linux data partition, placed before a last row that takes the rest of the disk. */
export function addPartition(parts: PartitionDraft[], os: OsKind): { parts: PartitionDraft[]; index: number } {
  const row = os === 'windows' ? p('10G', '0700', 'ntfs', '', 'Data') : p('10G', '8300', 'ext4', '', '');
  const at = parts.length && parts.at(-1)!.size.trim() === '100%' ? parts.length - 1 : parts.length;
  return { parts: [...parts.slice(0, at), row, ...parts.slice(at)], index: at };
}

/** The recipe's `partition_layout` for these rows: empty fields left out. */
export function toSpecs(parts: PartitionDraft[]) {
  return parts.map((x) => ({
    size: x.size.trim(),
    format: x.format,
    ...(x.type_guid.trim() ? { type_guid: x.type_guid.trim() } : {}),
    ...(x.label.trim() ? { label: x.label.trim() } : {}),
    ...(x.mountpoint.trim() ? { mountpoint: x.mountpoint.trim() } : {}),
    ...(x.bootable !== undefined ? { bootable: x.bootable } : {}),
  }));
}

export function fromSpecs(specs: { size: string; type_guid?: string; format?: Format; label?: string; mountpoint?: string; bootable?: boolean }[]): PartitionDraft[] {
  return specs.map((s) => ({
    size: s.size,
    type_guid: s.type_guid ?? '',
    format: s.format ?? 'none',
    label: s.label ?? '',
    mountpoint: s.mountpoint ?? '',
    ...(s.bootable !== undefined ? { bootable: s.bootable } : {}),
  }));
}
