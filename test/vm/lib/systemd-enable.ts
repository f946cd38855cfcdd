import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Where an offline root keeps units, in systemd's precedence order (as the guest sees them). */
const UNIT_DIRS = ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

function installSection(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inInstall = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inInstall = line === '[Install]';
    const m = inInstall ? /^(\w+)\s*=\s*(.*)$/.exec(line) : null;
    if (m?.[1] && m[2] !== undefined) out.set(m[1], [...(out.get(m[1]) ?? []), ...m[2].split(/\s+/).filter(Boolean)]);
  }
  return out;
}

async function link(root: string, guestLink: string, guestTarget: string): Promise<void> {
  const hostLink = join(root, guestLink);
  await mkdir(dirname(hostLink), { recursive: true });
  await unlink(hostLink).catch(() => undefined);
  await symlink(guestTarget, hostLink);
}

/**
 * What `systemctl enable UNIT` does, for a root directory that no systemd is running on: the `.wants`/`.requires`
 * symlinks of its [Install] section, its aliases, and the units named by `Also=`.
 */
export async function enableUnit(root: string, unit: string, seen = new Set<string>()): Promise<void> {
  if (seen.has(unit)) return;
  seen.add(unit);
  const guestPath = UNIT_DIRS.map((d) => `${d}/${unit}`).find((p) => existsSync(join(root, p)));
  if (!guestPath) throw new Error(`enableUnit: ${unit} not found under ${UNIT_DIRS.join(', ')} in ${root}`);
  const install = installSection(await readFile(join(root, guestPath), 'utf8'));
  for (const target of install.get('WantedBy') ?? []) await link(root, `/etc/systemd/system/${target}.wants/${unit}`, guestPath);
  for (const target of install.get('RequiredBy') ?? []) await link(root, `/etc/systemd/system/${target}.requires/${unit}`, guestPath);
  for (const alias of install.get('Alias') ?? []) await link(root, `/etc/systemd/system/${alias}`, guestPath);
  for (const also of install.get('Also') ?? []) await enableUnit(root, also, seen);
}
