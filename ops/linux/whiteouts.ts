// The deletions a layer asks for, applied once its files are down (OCI image-spec, "Whiteouts"):
//  - `dir/.wh.NAME` removes NAME of the layers below; what this layer itself writes there stays (a whiteout only
//    hides lower layers), and a directory it writes again keeps only this layer's entries;
//  - `dir/.wh..wh..opq` hides everything the lower layers have below dir: only this layer's entries stay.
// Every path is resolved within the target (ops/in-root.ts): a whiteout below a symlinked directory removes inside
// the target, never on the host; removal itself never follows a link (fs.rm works on the link).
import { lstat, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { resolveInRoot } from '../in-root.ts';
import { StepError } from '../runner.ts';
import { WHITEOUT_PREFIX, type LayerChanges } from './layer-guard.ts';

export interface WhiteoutResult {
  /** Paths removed (whiteouts and opaque directories together). */
  removed: number;
  /** Whiteouts that named nothing below (harmless) or could not apply (a name of `.` or `..`). */
  skipped: string[];
}

/** The real directory of a path the layer spells, within the root; undefined where there is none. */
async function dirInRoot(root: string, spelled: string): Promise<string | undefined> {
  try {
    const host = await resolveInRoot(root, spelled);
    return (await lstat(host)).isDirectory() ? host : undefined;
  } catch (e) {
    if (e instanceof StepError || (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function applyWhiteouts(root: string, changes: LayerChanges): Promise<WhiteoutResult> {
  const result: WhiteoutResult = { removed: 0, skipped: [] };
  if (!changes.whiteouts.length && !changes.opaque.length) return result;
  // This layer's paths and every directory on the way to them: what an opaque directory keeps.
  const kept = new Set<string>();
  for (const path of changes.written) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) kept.add(parts.slice(0, i).join('/'));
  }
  const remove = async (host: string) => {
    await rm(host, { recursive: true, force: true });
    result.removed++;
  };
  /** Keeps only what this layer wrote below `dir` (a real directory, host path). */
  const prune = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const host = join(dir, name);
      if (!kept.has(relative(root, host))) {
        await remove(host);
        continue;
      }
      const st = await lstat(host);
      if (st.isDirectory()) await prune(host);
    }
  };
  for (const whiteout of changes.whiteouts) {
    const slash = whiteout.lastIndexOf('/');
    const name = whiteout.slice(slash + 1 + WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..' || name.includes('/')) {
      result.skipped.push(whiteout);
      continue;
    }
    const dir = await dirInRoot(root, slash < 0 ? '' : whiteout.slice(0, slash));
    const target = dir && join(dir, name);
    const st = target && (await lstat(target).catch(() => undefined));
    if (!target || !st) {
      result.skipped.push(whiteout);
      continue;
    }
    const real = relative(root, target);
    if (!changes.written.has(real)) await remove(target);
    else if (st.isDirectory()) await prune(target);
  }
  for (const spelled of changes.opaque) {
    const dir = await dirInRoot(root, spelled);
    if (dir) await prune(dir);
    else result.skipped.push(`${spelled}/.wh..wh..opq`);
  }
  return result;
}
