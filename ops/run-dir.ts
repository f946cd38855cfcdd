import { mkdir, mkdtemp } from 'node:fs/promises';

/** The installer's own directory for mount points and scratch files: on tmpfs, root-only. */
export const RUN_DIR = '/run/shoal-install';

/** A fresh directory `/run/shoal-install/<prefix>XXXXXX`; under /tmp where /run cannot take it (a test as non-root). */
export async function runTempDir(prefix: string): Promise<string> {
  await mkdir(RUN_DIR, { recursive: true, mode: 0o700 }).catch(() => undefined);
  return mkdtemp(`${RUN_DIR}/${prefix}`).catch(() => mkdtemp(`/tmp/shoal-install-${prefix}`));
}
