import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cached, cacheRoot } from './cache.ts';
import { progress } from './log.ts';
import { sh } from './sh.ts';
import { dropAptCaches } from './tree.ts';

export const SUITE = 'bookworm';

/** Bump when debootstrapTree's command or clean-up changes: it is part of the cache key. */
const DEBOOTSTRAP_SCRIPT_VERSION = 1;

/** Deb822 (`URIs:`/`Suites:` stanzas) and one-line (`deb [opts] URI suite ...`) sources, as apt reads them. */
function aptSources(): { uri: string; suites: string[] }[] {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) {
    files.push(...readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)));
  }
  const found: { uri: string; suites: string[] }[] = [];
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (!field('Types').includes('deb')) continue;
        for (const uri of field('URIs')) found.push({ uri, suites: field('Suites') });
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m?.[1] && m[2]) found.push({ uri: m[1], suites: [m[2]] });
      }
    }
  }
  return found;
}

/** The Debian mirror apt on this machine uses for the suite: only the configured package registry is reachable here. */
export function debianMirror(suite = SUITE): string {
  const override = process.env.SHOAL_DEBIAN_MIRROR;
  if (override) return override;
  const source = aptSources().find((s) => s.suites.includes(suite));
  if (!source) throw new Error(`no apt source for ${suite} in /etc/apt/sources.list*; set SHOAL_DEBIAN_MIRROR`);
  return source.uri;
}

/** debootstrap names every package it handles; show the first line of each phase plus a heartbeat, so minutes of work stay visible but short. */
function phaseReporter(label: string): (line: string) => void {
  const phases = new Set<string>();
  let lastAt = 0;
  let count = 0;
  return (line) => {
    const m = /^([IWE]): (\S+)/.exec(line);
    if (!m) return;
    count++;
    const phase = `${m[1]} ${m[2]}`;
    if (m[1] !== 'I' || !phases.has(phase) || Date.now() - lastAt > 20_000) {
      progress(`${label}: ${line.trim()} (${count} lines)`);
      phases.add(phase);
      lastAt = Date.now();
    }
  };
}

export interface DebootstrapSpec {
  /** Names the cache entry (e.g. "fixture", "maint"). */
  name: string;
  packages: readonly string[];
  suite?: string;
}

/**
 * A cached minbase debootstrap tree of the suite plus `packages`, keyed by exactly those. Kept apart from the
 * configuration that callers apply to a copy, so changing a config file does not cost another debootstrap.
 * Returns the tree's directory: treat it as read-only.
 */
export async function debootstrapTree(spec: DebootstrapSpec): Promise<string> {
  const suite = spec.suite ?? SUITE;
  const packages = [...new Set(spec.packages)].sort();
  const dir = await cached(`debootstrap-${spec.name}`, { suite, variant: 'minbase', packages, script: DEBOOTSTRAP_SCRIPT_VERSION }, async (tmp) => {
    const debs = join(cacheRoot(), 'debs');
    await mkdir(debs, { recursive: true });
    const mirror = debianMirror(suite);
    progress(`debootstrap ${suite} (${packages.length} extra packages) from ${mirror}: takes minutes`);
    // flock: debootstrap trusts whatever sits in --cache-dir after a checksum check, so two runs must not download into it at once.
    await sh(['flock', join(debs, '.lock'), 'debootstrap', '--variant=minbase', `--include=${packages.join(',')}`, `--cache-dir=${debs}`, suite, join(tmp, 'root'), mirror], {
      onLine: phaseReporter(`debootstrap-${spec.name}`),
    });
    await dropAptCaches(join(tmp, 'root'));
  });
  return join(dir, 'root');
}
