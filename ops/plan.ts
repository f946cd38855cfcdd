import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { wipeProblems, type DiskContents } from './disk-contents.ts';
import type { TargetChoice } from './disk-target.ts';
import type { DiskFacts } from './disks.ts';
import { parseReference, type ImageReference } from './oci/reference.ts';
import { isConfigDrive, isWindows, type Format, type PartitionSpec, type Recipe } from './recipe.ts';
import { MiB, alignDown, formatBytes, parseSize, sizeProblem } from './sizes.ts';
import type { MachineFacts } from './machine.ts';
import { publicRecipe, readingWarnings, type PublicRecipe, type ResolvedPayloads } from './public-recipe.ts';
import { STEP_LIST, type StepName } from './steps/index.ts';
import type { Step } from './steps/step.ts';

export { ALL_STEPS, type StepName } from './steps/index.ts';

export type Role = 'esp' | 'msr' | 'root' | 'swap' | 'cidata' | 'windows' | 'data';

export interface PlannedPartition {
  number: number;
  startSector: number;
  endSector: number;
  sizeBytes: number;
  /** sgdisk type code (`ef00`) or a full type GUID. */
  typeCode: string;
  /** The GPT partition name. */
  name: string;
  /** Chosen now so the plan (and a BCD store) can name the exact partition before it exists. */
  partGuid: string;
  format: Format;
  label?: string;
  mountpoint?: string;
  /** Chosen now where mkfs lets us (ext4, xfs, btrfs, swap, vfat volume id), so fstab is known from the plan. */
  fsUuid?: string;
  role: Role;
  bootable: boolean;
}

export interface Plan {
  /** The recipe without its secrets (ops/public-recipe.ts): the plan is shown and logged whole. */
  recipe: PublicRecipe;
  os: 'linux' | 'windows';
  disk: DiskFacts;
  /** How the disk was chosen (target_disk, a by-id/by-path name, target_disk_hints) and why. */
  target?: TargetChoice;
  /** What is on the disk now (ops/disk-contents.ts). */
  contents?: DiskContents;
  machine: MachineFacts;
  diskGuid: string;
  partitions: PlannedPartition[];
  image?: ImageReference;
  steps: StepName[];
  /** Steps the operator asked to leave out (`--stop-before`). */
  skipped: StepName[];
  warnings: string[];
}

export class PlanRefused extends Error {
  constructor(readonly reasons: string[]) {
    super(`the plan was refused, nothing was written:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
    this.name = 'PlanRefused';
  }
}

/** The GPT needs 34 sectors at each end on 512-byte disks (fewer, larger sectors on 4Kn disks). */
function lastUsableSector(disk: DiskFacts): number {
  const totalSectors = Math.floor(disk.sizeBytes / disk.sectorSize);
  const backupSectors = 1 + Math.ceil((128 * 128) / disk.sectorSize);
  return totalSectors - 1 - backupSectors;
}

const LABEL_LIMIT: Partial<Record<Format, number>> = { vfat: 11, ext4: 16, xfs: 12, btrfs: 255, ntfs: 32, swap: 15 };
const MOUNTABLE_LINUX: Format[] = ['ext4', 'xfs', 'btrfs', 'vfat'];
const FS_WITH_UUID: Format[] = ['ext4', 'xfs', 'btrfs', 'swap'];

const isEspType = (t: string) => t.toLowerCase() === 'ef00' || t.toLowerCase() === 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';

function roleOf(p: PartitionSpec, windows: boolean): Role {
  const type = p.type_guid?.toLowerCase();
  if ((type && isEspType(type)) || p.mountpoint === '/boot/efi') return 'esp';
  if (type === '0c01' || type === 'e3c9e316-0b5c-4db8-817d-f92df00215ae') return 'msr';
  if (isConfigDrive(p)) return 'cidata';
  if (p.format === 'swap') return 'swap';
  if (p.mountpoint === '/') return 'root';
  if (windows && p.format === 'ntfs') return 'windows';
  return 'data';
}

const DEFAULT_TYPE: Record<Role, string> = { esp: 'ef00', msr: '0c01', root: '8304', swap: '8200', cidata: '0700', windows: '0700', data: '8300' };
const GPT_NAME: Record<Role, string> = {
  esp: 'EFI system partition',
  msr: 'Microsoft reserved partition',
  root: 'root',
  swap: 'swap',
  cidata: 'cidata',
  windows: 'Basic data partition',
  data: 'data',
};

function defaultType(role: Role, format: Format): string {
  if (role === 'data' && (format === 'ntfs' || format === 'vfat')) return '0700';
  return DEFAULT_TYPE[role];
}

/** A vfat volume id is 8 hex digits, shown by blkid as XXXX-XXXX. */
function vfatVolumeId(): string {
  return randomUUID().replaceAll('-', '').slice(0, 8).toUpperCase();
}

function fsUuidFor(format: Format): string | undefined {
  if (FS_WITH_UUID.includes(format)) return randomUUID();
  if (format === 'vfat') {
    const id = vfatVolumeId();
    return `${id.slice(0, 4)}-${id.slice(4)}`;
  }
  return undefined;
}

function layoutPartitions(recipe: Recipe, disk: DiskFacts, problems: string[]): PlannedPartition[] {
  const windows = isWindows(recipe);
  const align = MiB / disk.sectorSize;
  const last = lastUsableSector(disk);
  const lastAligned = alignDown(last + 1, align) - 1;
  let next = align;
  const out: PlannedPartition[] = [];
  recipe.partition_layout.forEach((spec, i) => {
    const where = `partition_layout[${i}]`;
    const problem = sizeProblem(spec.size);
    if (problem) {
      problems.push(`${where}.size: ${problem}`);
      return;
    }
    const size = parseSize(spec.size);
    if (size.kind === 'rest' && i !== recipe.partition_layout.length - 1) {
      problems.push(`${where}: only the last partition can take the rest of the disk (100%)`);
      return;
    }
    const sectors = size.kind === 'rest' ? lastAligned + 1 - next : Math.ceil(size.bytes / MiB) * align;
    const end = next + sectors - 1;
    if (sectors <= 0 || end > lastAligned) {
      problems.push(`${where} (${spec.size}) does not fit: the layout needs more than the ${formatBytes(disk.sizeBytes)} of ${disk.path}`);
      return;
    }
    const role = roleOf(spec, windows);
    const limit = LABEL_LIMIT[spec.format];
    if (spec.label && limit !== undefined && Buffer.byteLength(spec.label) > limit) {
      problems.push(`${where}.label "${spec.label}" is longer than ${spec.format} allows (${limit})`);
    }
    out.push({
      number: i + 1,
      startSector: next,
      endSector: end,
      sizeBytes: sectors * disk.sectorSize,
      typeCode: spec.type_guid ?? defaultType(role, spec.format),
      name: spec.label ?? GPT_NAME[role],
      partGuid: randomUUID(),
      format: spec.format,
      label: spec.label,
      mountpoint: spec.mountpoint,
      fsUuid: fsUuidFor(spec.format),
      role,
      bootable: spec.bootable ?? role === 'esp',
    });
    next = end + 1;
  });
  return out;
}

function checkDisk(disk: DiskFacts, problems: string[]) {
  if (disk.readOnly) problems.push(`${disk.path} is read-only`);
  for (const r of disk.inUse) problems.push(`${disk.path} is in use: ${r}`);
}

function checkLinuxLayout(parts: PlannedPartition[], machine: MachineFacts, problems: string[]) {
  const seen = new Map<string, number>();
  for (const p of parts) {
    if (!p.mountpoint) continue;
    // The schema admits one spelling per directory; compared normalised all the same, so no two partitions share one.
    const dir = posix.normalize(`${p.mountpoint}/`).replace(/(.)\/$/, '$1');
    if (dir !== p.mountpoint || !dir.startsWith('/')) problems.push(`partition_layout[${p.number - 1}].mountpoint: ${p.mountpoint} is not a normalised absolute path (${dir})`);
    const other = seen.get(dir);
    if (other !== undefined) problems.push(`two partitions are mounted at ${dir} (${other} and ${p.number})`);
    seen.set(dir, p.number);
    if (!MOUNTABLE_LINUX.includes(p.format)) problems.push(`partition ${p.number} is ${p.format}, which cannot be mounted at ${p.mountpoint}`);
  }
  if (!parts.some((p) => p.mountpoint === '/')) problems.push('no partition is mounted at /: a Linux install needs a root filesystem');
  for (const p of parts.filter((q) => q.mountpoint && q.mountpoint !== '/')) {
    if (!machine.filesystems.includes(p.format)) {
      problems.push(`this kernel cannot mount ${p.format} (needed for ${p.mountpoint}); load its module or leave the mountpoint out`);
    }
  }
}

function checkWindowsLayout(parts: PlannedPartition[], problems: string[]) {
  const esp = parts.find((p) => p.role === 'esp');
  if (!esp || esp.format !== 'vfat') problems.push('a Windows install needs an EFI system partition (type ef00, vfat)');
  if (!parts.some((p) => p.role === 'windows')) problems.push('a Windows install needs an NTFS partition for Windows');
}

export interface PlanOptions {
  /** Leave out this step and every one after it (e.g. where this kernel cannot run the bootloader step). */
  stopBefore?: StepName;
  /** The secret documents' bytes, already read, so the plan can state their sizes and digests. */
  payloads?: ResolvedPayloads;
  target?: TargetChoice;
  /** What is on the disk now; the recipe's `wipe` guard is checked against it (prepareInstall always looks). */
  contents?: DiskContents;
  /** The steps to choose from, in order (ops/steps/index.ts unless a test brings its own). */
  registry?: readonly Step[];
}

function chooseSteps(recipe: Recipe, registry: readonly Step[], opts: PlanOptions, problems: string[]): { steps: StepName[]; skipped: StepName[] } {
  const wanted = registry.filter((s) => s.wanted(recipe)).map((s) => s.name as StepName);
  if (!opts.stopBefore) return { steps: wanted, skipped: [] };
  const at = wanted.indexOf(opts.stopBefore);
  if (at < 0) {
    problems.push(`--stop-before ${opts.stopBefore}: this plan has no such step (it has ${wanted.join(', ')})`);
    return { steps: wanted, skipped: [] };
  }
  return { steps: wanted.slice(0, at), skipped: wanted.slice(at) };
}

function imageOf(recipe: Recipe, problems: string[]): ImageReference | undefined {
  if (!recipe.oci_url) {
    problems.push('oci_url: no image to install: give an image reference like registry:8080/os-images/debian:12');
    return undefined;
  }
  try {
    return parseReference(recipe.oci_url);
  } catch (e) {
    problems.push(`oci_url: ${(e as Error).message}`);
    return undefined;
  }
}

/** Recipe + facts -> the exact install, or every reason it cannot be done. Touches nothing. */
export function makePlan(recipe: Recipe, disk: DiskFacts, machine: MachineFacts, opts: PlanOptions = {}): Plan {
  const problems: string[] = [];
  const warnings: string[] = [];
  checkDisk(disk, problems);
  if (opts.contents) problems.push(...wipeProblems(recipe, disk.path, opts.contents));
  const registry = opts.registry ?? STEP_LIST;
  const { steps, skipped } = chooseSteps(recipe, registry, opts, problems);
  const partitions = layoutPartitions(recipe, disk, problems);
  const image = imageOf(recipe, problems);
  if (isWindows(recipe)) checkWindowsLayout(partitions, problems);
  else checkLinuxLayout(partitions, machine, problems);
  for (const step of registry.filter((s) => steps.includes(s.name as StepName))) problems.push(...(step.layoutProblems?.(partitions) ?? []));
  if (!machine.uefi) warnings.push('this machine did not boot in UEFI mode: no firmware boot entry can be written; the disk boots through the removable-media path');
  for (const s of skipped) warnings.push(`${s} will not run (--stop-before): the disk will not be bootable`);
  if (problems.length) throw new PlanRefused(problems);
  const shown = publicRecipe(recipe, opts.payloads);
  warnings.push(...readingWarnings(shown));
  return {
    recipe: shown,
    os: isWindows(recipe) ? 'windows' : 'linux',
    disk,
    ...(opts.target ? { target: opts.target } : {}),
    ...(opts.contents ? { contents: opts.contents } : {}),
    machine,
    diskGuid: randomUUID(),
    partitions,
    image,
    steps,
    skipped,
    warnings,
  };
}
