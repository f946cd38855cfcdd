import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { progress } from './log.ts';
import { sh } from './sh.ts';

/** Outside the repository so that git clean and fresh checkouts keep the gigabytes, and a CI machine reuses them between runs. */
export function cacheRoot(): string {
  return process.env.SHOAL_TEST_CACHE ?? '/var/cache/shoal-install-test';
}

/** Object keys sorted so that the same inputs always hash the same, whatever order a caller wrote them in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function cacheKey(inputs: unknown): string {
  return createHash('sha256').update(canonical(inputs)).digest('hex').slice(0, 16);
}

/**
 * Builds leave chroot mounts (debootstrap mounts /proc and /sys in its target); they must go before rm -rf,
 * or the removal walks into the host's /sys.
 */
async function unmountBeneath(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await sh(['umount', '--lazy', m]);
}

export async function removeTree(dir: string): Promise<void> {
  await unmountBeneath(dir);
  await rm(dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An interrupted build leaves `.NAME-KEY.tmp-PID-*`; only its dead owner's leftovers are removed, a concurrent builder's are not. */
async function removeAbandoned(root: string, stem: string): Promise<void> {
  for (const entry of await readdir(root)) {
    const m = entry.startsWith(`.${stem}.tmp-`) ? /\.tmp-(\d+)-/.exec(entry) : null;
    if (m && !alive(Number(m[1]))) {
      progress(`removing abandoned build ${join(root, entry)}`);
      await removeTree(join(root, entry));
    }
  }
}

/**
 * The directory `<cacheRoot>/<name>-<hash(inputs)>`, built by `build` on first use. The build runs in a temporary
 * sibling that is renamed into place only when it succeeded, so a half-built directory is never mistaken for a result.
 * Inputs must name everything the result depends on (package list, suite, a version of the build script).
 */
export async function cached(name: string, inputs: unknown, build: (tmpDir: string) => Promise<void>): Promise<string> {
  const root = cacheRoot();
  const stem = `${name}-${cacheKey(inputs)}`;
  const final = join(root, stem);
  if (existsSync(final)) return final;

  await mkdir(root, { recursive: true });
  await removeAbandoned(root, stem);
  const tmp = await mkdtemp(join(root, `.${stem}.tmp-${process.pid}-`));
  const t0 = Date.now();
  progress(`building ${final}`);
  try {
    await build(tmp);
    await writeFile(join(tmp, '.inputs.json'), `${JSON.stringify(inputs, null, 2)}\n`);
    await unmountBeneath(tmp);
    // mkdtemp made it 0700; results are read by other users too (a registry serving the fixture, say).
    await chmod(tmp, 0o755);
    await rename(tmp, final);
  } catch (e) {
    await removeTree(tmp);
    // Another process finished the same build first: its result is as good as ours.
    if (existsSync(final)) return final;
    throw e;
  }
  progress(`built ${final} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return final;
}
