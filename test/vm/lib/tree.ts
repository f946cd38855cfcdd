import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sh } from './sh.ts';

/** A full copy (owners, modes, xattrs, device nodes, hard links) so that configuring it never touches the cached original. */
export async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await sh(['cp', '-a', '--reflink=auto', from, to]);
}

/**
 * Writes a file of the guest tree at its guest path; a file starting with `#!` is a script and gets the exec bit.
 * Whatever was there goes first: a guest symlink (resolv.conf, say) must not be followed onto the host.
 */
export async function writeGuestFile(root: string, guestPath: string, content: string | Buffer, mode?: number): Promise<void> {
  const host = join(root, guestPath);
  await mkdir(dirname(host), { recursive: true });
  await rm(host, { force: true });
  const isScript = (typeof content === 'string' ? content.slice(0, 2) : content.subarray(0, 2).toString()) === '#!';
  await writeFile(host, content, { mode: mode ?? (isScript ? 0o755 : 0o644) });
}

/** `du -sb`: the size the tree takes once unpacked, which the installer checks against the target partition. */
export async function treeBytes(dir: string): Promise<number> {
  return Number((await sh(['du', '-sb', dir])).split('\t')[0]);
}

/** What `apt-get clean` and a fresh image leave out: downloaded .debs and package lists are only dead weight in an image. */
export async function dropAptCaches(root: string): Promise<void> {
  for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const entry of await readdir(join(root, dir))) {
      if (entry !== 'partial' && entry !== 'lock') await rm(join(root, dir, entry), { recursive: true, force: true });
    }
  }
  await rm(join(root, 'var/cache/apt/pkgcache.bin'), { force: true });
  await rm(join(root, 'var/cache/apt/srcpkgcache.bin'), { force: true });
}

/** The guest's own files: a fresh guest has no host name or resolver of its own, and debootstrap copied the host's in. */
export const LOCALHOST_HOSTS = '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n';
