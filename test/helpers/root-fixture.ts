// A fake target root with a "host" directory beside it, for tests of paths that must never leave the root.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

/** Registers the suite's work directory; each call of the returned function gives a fresh root and host pair. */
export function rootFixtures(prefix: string, rootName = 'root'): () => Promise<{ root: string; host: string }> {
  let work: string;
  let n = 0;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });
  return async () => {
    const dir = join(work, String(++n));
    const root = join(dir, rootName);
    const host = join(dir, 'host');
    await mkdir(root, { recursive: true });
    await mkdir(host);
    return { root, host };
  };
}
