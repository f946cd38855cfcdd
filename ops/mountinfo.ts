import { readFile } from 'node:fs/promises';

export interface MountRow {
  /** major:minor of the mounted filesystem's device. */
  devNumber: string;
  mountpoint: string;
  fstype: string;
  source: string;
}

/** The kernel writes a space, tab, newline or backslash in a path as a 3-digit octal escape (`\040`). */
const unescapeMountinfo = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** `/proc/self/mountinfo` rows: "36 35 98:0 /root /mnt opts - ext3 /dev/root rw". */
export function parseMountinfo(text: string): MountRow[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right = ''] = line.split(' - ');
      const f = left!.split(' ');
      const [fstype = '', source = ''] = right.split(' ');
      return { devNumber: f[2] ?? '', mountpoint: unescapeMountinfo(f[4] ?? ''), fstype, source: unescapeMountinfo(source) };
    });
}

/** The mounts of this process's namespace (a test may name another file); none when it cannot be read. */
export async function readMountinfo(path = '/proc/self/mountinfo'): Promise<MountRow[]> {
  return parseMountinfo(await readFile(path, 'utf8').catch(() => ''));
}
