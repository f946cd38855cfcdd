/**
 * One install per disk. An install holds an exclusive BSD flock on the whole-disk device node (for a disk
 * image, on the image file, taken before it is attached), the lock systemd's tools and udev agree on.
 *
 * Node has no flock(2). util-linux `flock` is handed our open file descriptor as its fd 3, locks it and exits:
 * a flock belongs to the open file, so the lock stays with the descriptor we keep, and the kernel drops it
 * when we close it or the process dies in any way (SIGKILL included). No helper process outlives the call.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { DiskError } from './disks.ts';
import { CommandError, run } from './exec.ts';

/** flock's exit code when the lock is taken (chosen, so it cannot be mistaken for a usage error). */
const BUSY = 75;

/** Another live process holds the disk. A refusal: exit 3, nothing written. */
export class DiskBusy extends DiskError {
  override name = 'DiskBusy';
}

export interface DiskLock {
  readonly path: string;
  readonly kind: 'block' | 'image';
  /** Throws when the locked disk is gone: an image file deleted or replaced, a device node removed. */
  checkIntact(): void;
  /** Idempotent; the process ending releases it too. */
  release(): void;
}

const sameFile = (a: Stats, b: Stats) => (a.isBlockDevice() ? b.isBlockDevice() && a.rdev === b.rdev : a.dev === b.dev && a.ino === b.ino);

/** Who holds an exclusive flock on this file: the kernel lists a lock in the fdinfo of the descriptor that owns it. */
export function flockHolder(target: Stats): { pid: number; command: string } | undefined {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (!/^lock:.*\bFLOCK\b.*\bWRITE\b/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))) continue;
        if (!sameFile(target, statSync(`/proc/${pid}/fd/${fd}`))) continue;
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
        const command = argv.join(' ');
        return { pid: Number(pid), command: command.length > 160 ? `${command.slice(0, 157)}...` : command };
      } catch {
        // the process or descriptor went away while we looked
      }
    }
  }
  return undefined;
}

function busyMessage(path: string, st: Stats): string {
  const holder = flockHolder(st);
  const who = holder ? `process ${holder.pid} (${holder.command})` : 'a process that could not be named';
  return `another install holds ${path}: ${who} has locked it. Nothing was written; wait for that install to end, or stop it`;
}

/**
 * Lock `path` (a whole-disk block device or a disk image file) for this install, or throw DiskBusy at once.
 * Undefined when `path` is neither a regular file nor a block device: inspectDisk says what is wrong with it.
 */
export async function lockDisk(path: string): Promise<DiskLock | undefined> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO named as the disk must not hang the open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    closeSync(fd);
  };
  const locked = fstatSync(fd);
  if (!locked.isFile() && !locked.isBlockDevice()) {
    release();
    return undefined;
  }
  try {
    await run(['flock', '--exclusive', '--nonblock', '--conflict-exit-code', String(BUSY), '3'], { fd3: fd });
  } catch (e) {
    release();
    if (e instanceof CommandError && e.exitCode === BUSY) throw new DiskBusy(busyMessage(path, locked));
    throw e;
  }
  return {
    path,
    kind: locked.isFile() ? 'image' : 'block',
    checkIntact() {
      if (released) return;
      if (locked.isFile() && fstatSync(fd).nlink === 0) throw new DiskError(`the disk image ${path} was deleted during the install: what was installed onto it is gone`);
      const now = statSync(path, { throwIfNoEntry: false });
      if (!now) throw new DiskError(`${path} disappeared during the install: what was installed onto it is gone`);
      if (!sameFile(locked, now)) throw new DiskError(`${path} was replaced by another file during the install: what was installed went to the old one`);
    },
    release,
  };
}
