/**
 * What an installer killed mid-install (SIGKILL, a crash) leaves: the target mounted under /run/shoal-install
 * and, for an image file, its loop device attached. Called only while we hold the disk's lock, which proves
 * that installer is dead; it then clears exactly that, so the next run can go on. Mounts anywhere else, or a
 * loop device another install has locked, are left alone: inspectDisk then refuses the disk and says why.
 */
import { lockDisk } from './disk-lock.ts';
import { loopsOf, staleInstallDirs } from './disks.ts';
import { run } from './exec.ts';

async function unmountAll(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    await run(['umount', '--recursive', dir]);
    await run(['rmdir', dir], { okExitCodes: [1] });
  }
}

/** Clear what a dead install left on this disk; one line per thing cleared, for the log. */
export async function clearStaleInstall(path: string, kind: 'block' | 'image'): Promise<string[]> {
  const notes: string[] = [];
  const cleared = (what: string) => notes.push(`cleared what an install that did not finish left on ${path}: ${what}`);
  if (kind === 'block') {
    const dirs = await staleInstallDirs(path);
    if (!dirs) return notes;
    await unmountAll(dirs);
    cleared(`unmounted ${dirs.join(', ')}`);
    return notes;
  }
  for (const loop of await loopsOf(path)) {
    // A live install that named the loop device itself holds this lock.
    const held = await lockDisk(loop).catch(() => undefined);
    if (!held) continue;
    try {
      const dirs = await staleInstallDirs(loop);
      if (!dirs) continue;
      await unmountAll(dirs);
      await run(['losetup', '--detach', loop]);
      cleared(`unmounted ${dirs.join(', ')} and detached ${loop}`);
    } finally {
      held.release();
    }
  }
  return notes;
}
