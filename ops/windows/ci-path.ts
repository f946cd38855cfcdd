// Windows names are case-insensitive, an NTFS volume seen through ntfs-3g is not: an image may hold
// `Windows/Boot/EFI` or `WINDOWS/boot/efi`. Look each component up the way Windows would.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The entry of `dir` named `name` in any case (an exact match wins); undefined when there is none. */
export async function findEntry(dir: string, name: string): Promise<string | undefined> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.includes(name)) return name;
  const lower = name.toLowerCase();
  return entries.filter((e) => e.toLowerCase() === lower).sort()[0];
}

/** `rel` ("Windows/Boot/EFI") under `root`, each component matched case-insensitively; the real path, or undefined. */
export async function findPath(root: string, rel: string): Promise<string | undefined> {
  let at = root;
  for (const part of rel.split('/').filter(Boolean)) {
    const found = await findEntry(at, part);
    if (found === undefined) return undefined;
    at = join(at, found);
  }
  return at;
}
