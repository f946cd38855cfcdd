import { readFileInRoot } from '../in-root.ts';

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** The installed tree's os-release (`etc/os-release`, else `usr/lib/os-release`); empty when it has none. */
export async function readOsRelease(root: string): Promise<Record<string, string>> {
  for (const f of ['etc/os-release', 'usr/lib/os-release']) {
    const text = await readFileInRoot(root, f).then(String, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (text !== undefined) return parseOsRelease(text);
  }
  return {};
}
