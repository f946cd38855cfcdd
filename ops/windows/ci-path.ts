// Windows names are case-insensitive, an NTFS volume seen through ntfs-3g is not: an image may hold
// `Windows/Boot/EFI` or `WINDOWS/boot/efi`. Look each component up the way Windows would, and every link (ntfs-3g
// shows junctions and symlinks as symlinks) within the volume, never onto the host.
import { lstat, readdir } from 'node:fs/promises';
import { inImage, resolveInRoot } from '../in-root.ts';

/** The entry of `dir` named `name` in any case (an exact match wins); undefined when there is none. */
export async function findEntry(dir: string, name: string): Promise<string | undefined> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.includes(name)) return name;
  const lower = name.toLowerCase();
  return entries.filter((e) => e.toLowerCase() === lower).sort()[0];
}

/**
 * `rel` ("Windows/Boot/EFI") under `root`, each component matched case-insensitively and resolved within `root`;
 * the real host path (under `root`), or undefined.
 */
export async function findPath(root: string, rel: string): Promise<string | undefined> {
  let at = root;
  for (const part of rel.split('/').filter(Boolean)) {
    const found = await findEntry(at, part);
    if (found === undefined) return undefined;
    at = await resolveInRoot(root, `${inImage(root, at)}/${found}`);
  }
  return (await lstat(at).then(
    () => true,
    () => false,
  ))
    ? at
    : undefined;
}
