import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sh } from './sh.ts';

/**
 * The per-job task ISO as the controller makes it: ISO 9660 with Joliet and Rock Ridge, volume SHOAL_TASK.
 * Keys are paths inside the ISO (`recipe.json` at the root; `a/b.txt` makes a directory); callers that test
 * a missing recipe simply leave it out.
 */
export async function makeTaskIso(files: Record<string, string | Buffer>, outPath: string): Promise<string> {
  await mkdir(dirname(outPath), { recursive: true });
  const staging = await mkdtemp(join(dirname(outPath), '.task-iso-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      const file = join(staging, path);
      if (!file.startsWith(`${staging}/`)) throw new Error(`makeTaskIso: ${path} leaves the ISO root`);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
    }
    await rm(outPath, { force: true });
    await sh(['xorriso', '-as', 'mkisofs', '-quiet', '-V', 'SHOAL_TASK', '-J', '-R', '-o', outPath, staging]);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return outPath;
}
