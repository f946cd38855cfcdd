// What one layer of a container image does, seen entry by entry before GNU tar acts on it:
//  - the paths it writes, its whiteouts and opaque directories (applied after the layer, see whiteouts.ts);
//  - no entry may reach outside the target through a symlink an earlier layer left on the disk. GNU tar guards
//    against the links of the archive it is reading (it makes dangerous ones last), but it follows the links it
//    finds on the disk, and with layers those are real: `etc -> /` in layer 1 and `etc/passwd` in layer 2 would
//    write the host's /etc/passwd. An entry whose way passes through an absolute link or climbs out of the root
//    stops the install, before tar has read it;
//  - a directory of a lower layer that this layer replaces with a file, a link or a device is removed first
//    (GNU tar cannot: it refuses to remove a directory that is not empty, and --recursive-unlink would empty every
//    directory an archive names).
// The checks run synchronously on each chunk before the chunk goes on to tar, so tar never sees an entry we have
// not judged. Paths here are relative to the target root, components separated by `/`, symlinks resolved.
import { lstatSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StepError } from '../runner.ts';
import type { EntryKind, TarEntry } from './tar-entries.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

const MAX_SYMLINKS = 40;

const components = (path: string) => path.split('/').filter((c) => c !== '' && c !== '.');

interface Parent {
  /** The parent's real path, links resolved. */
  parts: string[];
  /** Every component exists on the disk as a real directory, so the disk shows what is below it. */
  onDisk: boolean;
}

export interface LayerChanges {
  /** Real paths this layer writes (directories too). */
  written: Set<string>;
  /** `dir/.wh.name` entries, as the layer spells them. */
  whiteouts: string[];
  /** Directories holding `.wh..wh..opq`, as the layer spells them. */
  opaque: string[];
  /** Lower directories removed because this layer puts a non-directory in their place. */
  replacedDirs: string[];
}

export class LayerGuard implements LayerChanges {
  readonly written = new Set<string>();
  readonly whiteouts: string[] = [];
  readonly opaque: string[] = [];
  readonly replacedDirs: string[] = [];
  /** What this layer has put at a real path so far (tar may not have got there yet). */
  private readonly seen = new Map<string, { kind: EntryKind; target?: string }>();
  /** Resolved parents by spelling; dropped when an entry changes a path one of them went through. */
  private readonly parents = new Map<string, Parent>();
  private readonly through = new Set<string>();

  constructor(
    private readonly root: string,
    readonly label: string,
  ) {}

  see(entry: TarEntry): void {
    if (entry.path === '') return; // `./`: the root itself
    const parts = components(entry.path);
    if (parts.includes('..')) this.refuse(entry.path, 'its name climbs with ".."');
    const leaf = parts.pop()!;
    if (leaf.startsWith(WHITEOUT_PREFIX)) {
      if (leaf === OPAQUE_MARKER) this.opaque.push(parts.join('/'));
      else this.whiteouts.push(entry.path);
      return; // tar leaves these out (--exclude), we apply them once the layer is down
    }
    const parent = this.parent(parts, entry.path);
    if (entry.kind === 'hardlink') {
      const target = components(entry.linkpath ?? '');
      if (target.includes('..') || target.length === 0) this.refuse(entry.path, `it is a hard link to "${entry.linkpath}"`);
      this.parent(target.slice(0, -1), entry.path);
    }
    const real = [...parent.parts, leaf].join('/');
    if (entry.kind !== 'dir') this.replaceDir(parent, real);
    if (this.through.has(real)) {
      this.parents.clear();
      this.through.clear();
    }
    this.seen.set(real, { kind: entry.kind, target: entry.linkpath });
    this.written.add(real);
  }

  private refuse(path: string, why: string): never {
    throw new StepError(
      `${this.label}: the entry /${path} cannot be unpacked: ${why}`,
      'the image is damaged or hostile: nothing of a layer may reach outside the target; rebuild the image',
    );
  }

  private kindOnDisk(real: string): { kind: 'dir' | 'symlink' | 'other' | 'missing'; target?: string } {
    const st = lstatSync(join(this.root, real), { throwIfNoEntry: false });
    if (!st) return { kind: 'missing' };
    if (st.isSymbolicLink()) return { kind: 'symlink', target: readlinkSync(join(this.root, real)) };
    return { kind: st.isDirectory() ? 'dir' : 'other' };
  }

  /** Where the kernel will take tar for the parent directory; refused where that leaves the root. */
  private parent(spelled: string[], path: string): Parent {
    const key = spelled.join('/');
    const cached = this.parents.get(key);
    if (cached) return cached;
    const done: string[] = [];
    let todo = [...spelled];
    let onDisk = true;
    let links = 0;
    while (todo.length) {
      const name = todo.shift()!;
      if (name === '..') {
        if (!done.length) this.refuse(path, `a symlink on its way leads above the root of the image`);
        done.pop();
        continue;
      }
      const real = [...done, name].join('/');
      this.through.add(real);
      const mine = this.seen.get(real);
      let kind: 'dir' | 'symlink' | 'other' | 'missing';
      let target: string | undefined;
      if (mine) {
        kind = mine.kind === 'dir' || mine.kind === 'symlink' ? mine.kind : 'other';
        target = mine.target;
        // Until tar has made this layer's directory, the disk below it says nothing about what this layer sees.
        if (kind === 'dir' && onDisk) onDisk = this.kindOnDisk(real).kind === 'dir';
      } else if (!onDisk) {
        kind = 'missing';
      } else {
        ({ kind, target } = this.kindOnDisk(real));
      }
      if (kind === 'symlink') {
        if (++links > MAX_SYMLINKS) this.refuse(path, 'too many levels of symbolic links on its way');
        if (target!.startsWith('/')) {
          this.refuse(path, `/${real} on its way is a symlink to ${target}, which GNU tar would follow on the host`);
        }
        todo = [...components(target!), ...todo];
        continue;
      }
      if (kind !== 'dir') onDisk = false;
      done.push(name);
    }
    const parent = { parts: done, onDisk };
    this.parents.set(key, parent);
    return parent;
  }

  /** A lower layer's directory where this layer puts a file, link or device: removed, as the layer model says. */
  private replaceDir(parent: Parent, real: string): void {
    if (!parent.onDisk || this.seen.has(real)) return;
    if (this.kindOnDisk(real).kind !== 'dir') return;
    rmSync(join(this.root, real), { recursive: true, force: true });
    this.replacedDirs.push(real);
  }
}
