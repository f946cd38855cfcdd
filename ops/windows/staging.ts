// Where a WIM that cannot be streamed is put before wimapply reads it. A regular install.wim is not pipable:
// wimapply seeks in it (blob table, metadata at the end), so it must be a file. On a live maintenance OS /tmp
// is usually RAM (tmpfs), so the space is checked before the download rather than discovered full halfway.
import { statfs, stat } from 'node:fs/promises';
import { StepError } from '../runner.ts';
import { MiB, formatBytes } from '../sizes.ts';

export const STAGING_ENV = 'SHOAL_STAGING_DIR';
export const STAGING_DEFAULTS = ['/var/tmp', '/tmp'];
const TMPFS_MAGIC = 0x01021994;

/** Head-room beyond the blob: the staged file's own metadata and whatever else writes there meanwhile. */
export const stagingMargin = (size: number) => 64 * MiB + Math.ceil(size / 100);

export interface StagingArea {
  dir: string;
  free: number;
  ramBacked: boolean;
  /** Why this directory, for the log. */
  why: string;
}

async function measure(dir: string): Promise<{ free: number; ramBacked: boolean } | undefined> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return undefined;
  const fs = await statfs(dir).catch(() => undefined);
  return fs && { free: fs.bavail * fs.bsize, ramBacked: fs.type === TMPFS_MAGIC };
}

const HINT =
  `set ${STAGING_ENV} to a directory on a disk with room (not the target disk), or push the image as a pipable WIM ` +
  '(wimexport install.wim all pipable.wim --pipable), which streams straight onto the disk without staging';

/** The staging directory for a blob of `size` bytes: SHOAL_STAGING_DIR if set, else the roomier of /var/tmp and /tmp. */
export async function chooseStaging(size: number, env: NodeJS.ProcessEnv = process.env): Promise<StagingArea> {
  const need = size + stagingMargin(size);
  const needText = `${formatBytes(need)} (the ${formatBytes(size)} WIM + ${formatBytes(need - size)} margin)`;
  const chosen = env[STAGING_ENV]?.trim();
  if (chosen) {
    const m = await measure(chosen);
    if (!m) throw new StepError(`${STAGING_ENV}=${chosen} is not a directory`, HINT);
    if (m.free < need) {
      throw new StepError(`not enough space to stage the WIM in ${chosen} (${STAGING_ENV}): it needs ${needText}, ${formatBytes(m.free)} is free`, HINT);
    }
    return { dir: chosen, ...m, why: `${STAGING_ENV} names it` };
  }
  const candidates = (await Promise.all(STAGING_DEFAULTS.map(async (dir) => ({ dir, m: await measure(dir) })))).filter((c) => c.m);
  const best = candidates.sort((a, b) => b.m!.free - a.m!.free)[0];
  if (!best || best.m!.free < need) {
    const seen = candidates.map((c) => `${c.dir} ${formatBytes(c.m!.free)} free`).join(', ') || 'neither exists';
    throw new StepError(`not enough space to stage the WIM: it needs ${needText}; ${seen}`, HINT);
  }
  return { dir: best.dir, ...best.m!, why: `the roomier of ${STAGING_DEFAULTS.join(' and ')} (${STAGING_ENV} is not set)` };
}

export function stagingLine(area: StagingArea, size: number): string {
  const ram = area.ramBacked ? ', RAM-backed (tmpfs): the staged WIM takes memory until the apply ends' : '';
  return `the WIM is not pipable, so wimapply needs it as a file: staging ${formatBytes(size)} in ${area.dir} (${area.why}; ${formatBytes(area.free)} free${ram})`;
}
