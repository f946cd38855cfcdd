/**
 * Which device the install writes: target_disk as given (a device, a disk image file, or a /dev/disk/by-id or
 * by-path name), target_disk_hints, or both (which must agree). Reads the machine, writes nothing.
 */
import { lstat, realpath } from 'node:fs/promises';
import { chooseByHints, describeHints, type DiskHints, type RuledOut } from './disk-hints.ts';
import { stableName } from './disk-names.ts';
import { DiskError, listDisks, type DiskFacts } from './disks.ts';

/** How the target was found, for the plan and the webhook report. */
export interface TargetChoice {
  /** What the recipe (or --disk / shoal.disk=) named, when it named one. */
  given?: string;
  /** The hints, in the kernel argument's form, when there were some. */
  hints?: string;
  /** The device (or image file) the install writes. */
  path: string;
  how: 'path' | 'link' | 'facts' | 'hints';
  why: string;
  /** With hints: every other disk and what ruled it out. */
  ruledOut?: RuledOut[];
}

export interface TargetDeps {
  listDisks: () => Promise<DiskFacts[]>;
}

const REAL: TargetDeps = { listDisks };

async function resolveStableName(given: string, kind: 'by-id' | 'by-path', name: string, deps: TargetDeps): Promise<TargetChoice> {
  const link = await lstat(given).catch(() => undefined);
  if (link) {
    const path = await realpath(given).catch((e: NodeJS.ErrnoException) => {
      throw new DiskError(`${given} is a link to nothing (${e.code ?? e.message}): check the name with ls -l /dev/disk/${kind}`);
    });
    return { given, path, how: 'link', why: `${given} is a link to ${path}` };
  }
  const disks = await deps.listDisks();
  const named = disks.filter((d) => (kind === 'by-id' ? d.byId : d.byPath)?.includes(name));
  if (named.length === 1) {
    const d = named[0]!;
    return { given, path: d.path, how: 'facts', why: `no ${given} link (no udev); ${d.path} carries that name by its facts (lsblk, sysfs)` };
  }
  if (named.length > 1) {
    throw new DiskError(
      `${given} names ${named.length} disks (${named.map((d) => d.path).join(', ')}): the same disk seen through several paths (multipath)? Name one path by by-path, or use target_disk_hints`,
    );
  }
  const known = disks.flatMap((d) => ((kind === 'by-id' ? d.byId : d.byPath) ?? []).map((n) => `${d.path}: ${n}`));
  const lines = known.length ? known.map((k) => `\n    ${k}`).join('') : ' (none could be derived)';
  throw new DiskError(`${given} does not exist and names no disk on this machine; the ${kind} names here are:${lines}`);
}

/** The device a target_disk names: a by-id/by-path name resolved, anything else as it is. */
export async function resolveTargetDisk(given: string, deps: TargetDeps = REAL): Promise<TargetChoice> {
  const stable = stableName(given);
  if (stable) return resolveStableName(given, stable.kind, stable.name, deps);
  return { given, path: given, how: 'path', why: `named by target_disk` };
}

const sameDevice = async (a: string, b: string) => a === b || (await realpath(a).catch(() => a)) === (await realpath(b).catch(() => b));

/** target_disk, target_disk_hints or both -> the one device to write, or a DiskError saying why none. */
export async function chooseTarget(given: string | undefined, hints: DiskHints | undefined, deps: TargetDeps = REAL): Promise<TargetChoice> {
  if (!hints) {
    if (!given) throw new DiskError('no target disk: give target_disk or target_disk_hints');
    return resolveTargetDisk(given, deps);
  }
  const named = given ? await resolveTargetDisk(given, deps) : undefined;
  const choice = chooseByHints(hints, await deps.listDisks());
  const hinted: TargetChoice = { given, hints: describeHints(hints), path: choice.disk.path, how: 'hints', why: choice.why, ruledOut: choice.ruledOut };
  if (!named) return hinted;
  if (!(await sameDevice(named.path, choice.disk.path))) {
    throw new DiskError(
      `target_disk ${given}${named.path !== given ? ` (${named.path})` : ''} and target_disk_hints disagree: the hints chose ${choice.disk.path} (${choice.why}). Nothing was written; correct one of them`,
    );
  }
  return { ...hinted, why: `${choice.why}; target_disk ${given} names the same disk` };
}
