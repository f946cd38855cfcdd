import { createHash } from 'node:crypto';
import { readdir, readFile, stat, utimes } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached, cacheRoot, removeTree } from './cache.ts';
import { progress } from './log.ts';
import { sh } from './sh.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BUILD_SCRIPT = join(REPO, 'scripts/build_maintenance_os.sh');

/** What the ISO is made of: the build script and its helpers, the wrapper, the units, and the bundle (built first). */
const INPUTS = ['scripts/build_maintenance_os.sh', 'scripts/iso', 'scripts/shoal-install.sh', 'units', 'dist/shoal-install.mjs'];

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOTDIR') return undefined;
    throw e;
  });
  if (!entries) return [path];
  const nested = await Promise.all(entries.map((e) => filesUnder(join(path, e.name))));
  return nested.flat().sort();
}

async function inputsDigest(): Promise<Record<string, string>> {
  const digest: Record<string, string> = {};
  for (const input of INPUTS) {
    for (const file of await filesUnder(join(REPO, input))) {
      digest[relative(REPO, file)] = createHash('sha256')
        .update(await readFile(file))
        .digest('hex');
    }
  }
  return digest;
}

export interface MaintenanceIsoOptions {
  /** Baked into the image's /etc/shoal/shoal.conf (`--set`), e.g. `shoal.webhook=http://10.0.2.2:8080`. */
  settings?: string[];
}

/**
 * The maintenance ISO as users boot it, built by scripts/build_maintenance_os.sh from this work tree (bundle first)
 * and cached by its inputs; returns the path of install.iso. The script caches its Debian base layer itself (under
 * the test cache too), so a changed bundle or unit costs only the installer layer and the ISO's assembly.
 */
export async function maintenanceIso(opts: MaintenanceIsoOptions = {}): Promise<string> {
  await sh(['node', 'scripts/build.mjs'], { cwd: REPO });
  const settings = opts.settings ?? [];
  const inputs = { files: await inputsDigest(), settings };
  const dir = await cached('maint-iso', inputs, async (tmp) => {
    const args = ['bash', BUILD_SCRIPT, '--output', tmp, '--cache', join(cacheRoot(), 'maint-iso-build')];
    for (const s of settings) args.push('--set', s);
    await sh(args, { cwd: REPO, onLine: (line) => progress(`build_maintenance_os| ${line}`) });
  });
  // Marks it as in use: pruning spares what any test touched lately.
  const now = new Date();
  await utimes(dir, now, now);
  await pruneStaleIsos();
  return join(dir, 'install.iso');
}

/** Each ISO is about 330 MB: drop those no test asked for in a day. Never sooner: a concurrent test run may be booting one. */
async function pruneStaleIsos(): Promise<void> {
  const root = cacheRoot();
  for (const entry of await readdir(root)) {
    const dir = join(root, entry);
    if (!/^maint-iso-[0-9a-f]{16}$/.test(entry)) continue;
    const { mtimeMs } = await stat(dir);
    if (Date.now() - mtimeMs < 24 * 3600_000) continue;
    progress(`removing the maintenance ISO ${dir}, unused for a day`);
    await removeTree(dir);
  }
}
