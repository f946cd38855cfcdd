// Paths inside the target resolved as openat2(RESOLVE_IN_ROOT) would: the image's symlinks are followed as if the
// target were `/`, and `..` stops at the target, so no path of the image leads the installer onto the host.
// Node has no openat2, hence the walk with lstat and readlink, one component at a time. The image is unpacked
// and nothing else writes to the target while we run, so resolving first and acting after is sound; the files
// we create are opened with O_NOFOLLOW|O_EXCL and renamed over the leaf, so a symlinked leaf is never followed.
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, rename, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { StepError } from './runner.ts';

/** The kernel gives up after 40 symlinks in one lookup (ELOOP); so do we. */
const MAX_SYMLINKS = 40;

/** Reads of the image's own files (os-release, grub.cfg) are small; a huge one is not what it claims to be. */
export const READ_LIMIT = 16 * 1024 * 1024;

const components = (path: string) => path.split('/').filter((c) => c !== '' && c !== '.');
const shown = (parts: string[]) => `/${parts.join('/')}`;

const missing = (e: NodeJS.ErrnoException): undefined => {
  if (e.code === 'ENOENT') return undefined;
  throw e;
};

interface WalkOptions {
  /** Create missing directories with this mode (mkdir -p inside the root). */
  create?: number;
  /** Follow a symlink in the last component too (the default), or return the link itself. */
  followLeaf?: boolean;
}

async function walk(root: string, path: string, opts: WalkOptions = {}): Promise<string> {
  const done: string[] = [];
  let todo = components(path);
  let links = 0;
  while (todo.length) {
    const name = todo.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, name);
    const st: Stats | undefined = await lstat(host).catch(missing);
    if (st?.isSymbolicLink() && (todo.length > 0 || opts.followLeaf !== false)) {
      if (++links > MAX_SYMLINKS) throw new StepError(`${shown(components(path))} in the image: too many levels of symbolic links (at ${shown([...done, name])})`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      todo = [...components(target), ...todo];
      continue;
    }
    if (!st && opts.create !== undefined) {
      await mkdir(host, { mode: opts.create }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      todo.unshift(name);
      continue;
    }
    if (st && !st.isDirectory() && todo.length > 0) {
      throw new StepError(`${shown(components(path))} in the image: ${shown([...done, name])} is not a directory`);
    }
    done.push(name);
  }
  return join(root, ...done);
}

/** The host path of `path` (a path in the image) with every symlink resolved within `root`; never outside it. */
export const resolveInRoot = (root: string, path: string) => walk(root, path);

/** The path in the image (`/etc/fstab`) of a host path under `root`. */
export const inImage = (root: string, host: string) => `/${relative(root, host)}`;

export async function existsInRoot(root: string, path: string): Promise<boolean> {
  return walk(root, path)
    .then(lstat)
    .then(
      () => true,
      () => false,
    );
}

/** `mkdir -p` inside the root: the real directory's host path, which is under `root` whatever the image's links. */
export async function mkdirInRoot(root: string, path: string, mode = 0o755): Promise<string> {
  const dir = await walk(root, path, { create: mode });
  if (!(await lstat(dir)).isDirectory()) throw new StepError(`${shown(components(path))} in the image is not a directory`);
  return dir;
}

/** A regular file of the image, read within the root; not a FIFO or device (which would hang or never end). */
export async function readFileInRoot(root: string, path: string, limit = READ_LIMIT): Promise<Buffer> {
  const host = await walk(root, path);
  // Checked before the open too: opening a device node can have effects of its own.
  if (!(await lstat(host)).isFile()) throw new StepError(`${inImage(root, host)} in the image is not a regular file`);
  const fd = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fd.stat();
    if (!st.isFile()) throw new StepError(`${inImage(root, host)} in the image is not a regular file`);
    if (st.size > limit) throw new StepError(`${inImage(root, host)} in the image is ${st.size} bytes, more than the ${limit} expected of it`);
    return await fd.readFile();
  } finally {
    await fd.close();
  }
}

export interface WriteOptions {
  /** Default: the mode of the file it replaces, else 0644. */
  mode?: number;
  log: (message: string, level?: 'info' | 'warn') => void;
}

/**
 * Write a file the installer owns (etc/fstab, the NoCloud seed). Its directory is resolved (and made) within the
 * root; the file itself is written beside it and renamed over the leaf, so a symlink or hard link in the image's
 * place is replaced, never written through.
 */
export async function writeFileInRoot(root: string, path: string, data: string | Buffer, opts: WriteOptions): Promise<string> {
  const parts = components(path);
  const name = parts.pop();
  if (!name || name === '..') throw new StepError(`${path}: not a file name`);
  const dir = await mkdirInRoot(root, shown(parts));
  const leaf = join(dir, name);
  const old = await lstat(leaf).catch(missing);
  if (old?.isDirectory()) throw new StepError(`${inImage(root, leaf)} in the image is a directory: cannot write the file there`);
  if (old?.isSymbolicLink()) {
    opts.log(`${inImage(root, leaf)} in the image is a symlink (to ${await readlink(leaf)}): replaced with a regular file`, 'warn');
  }
  const mode = opts.mode ?? (old?.isFile() ? old.mode & 0o7777 : 0o644);
  const temp = join(dir, `.${name}.shoal-${randomBytes(6).toString('hex')}`);
  const fd = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await fd.writeFile(data);
      await fd.chmod(mode);
    } finally {
      await fd.close();
    }
    await rename(temp, leaf);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  return leaf;
}
