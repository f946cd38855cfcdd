import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Run CMD in bash with pipefail; its stdout as text. The one shell of the tests (shBytes for binary output). */
export const sh = (cmd: string) => execFileSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8', maxBuffer: 256 << 20 });
export const shBytes = (cmd: string) => execFileSync('bash', ['-o', 'pipefail', '-c', cmd], { maxBuffer: 256 << 20 });

export function makeDiskImage(path: string, size: string): string {
  sh(`truncate -s ${size} ${path}`);
  return path;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Attach IMAGE as a loop device of the test's own; returns its path. The one loop attach of the tests. */
export function attachLoop(image: string, opts: { partscan?: boolean; readOnly?: boolean } = {}): string {
  return sh(`losetup --find --show${opts.partscan ? ' --partscan' : ''}${opts.readOnly ? ' --read-only' : ''} ${image}`).trim();
}

export const loopsOf = (image: string) => sh(`losetup --noheadings --output NAME --associated ${image}`).trim();

/**
 * The loop devices still attached to an image once detaching has had time to finish: `losetup -d` of a device
 * some other process has open (a probe by another test) only marks it, and the kernel lets go at the last close.
 */
export async function loopsLeft(image: string, timeoutMs = 5000): Promise<string> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 100))) {
    const left = loopsOf(image);
    if (!left || Date.now() > deadline) return left;
  }
}

/** Attach an installed image to look at it; `release` unmounts and detaches whatever was opened. */
export async function inspectImage(image: string, mountBase: string) {
  const loop = attachLoop(image, { partscan: true, readOnly: true });
  sh(`partprobe ${loop} || true`);
  for (let i = 0; i < 50 && !sh(`ls ${loop}p1 2>/dev/null || true`).trim(); i++) await new Promise((r) => setTimeout(r, 100));
  const mounted: string[] = [];
  return {
    loop,
    part: (n: number) => `${loop}p${n}`,
    blkid: (n: number) =>
      Object.fromEntries(
        sh(`blkid --probe --output export ${loop}p${n}`)
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      ) as Record<string, string>,
    async mount(n: number, at: string, fstype: string) {
      const dir = join(mountBase, at);
      await mkdir(dir, { recursive: true });
      sh(`mount -o ro${fstype === 'xfs' ? ',norecovery' : ''} -t ${fstype} ${loop}p${n} ${dir}`);
      mounted.push(dir);
      return dir;
    },
    async release() {
      for (const d of mounted.reverse()) sh(`umount ${d}`);
      sh(`losetup -d ${loop}`);
      await rm(mountBase, { recursive: true, force: true });
    },
  };
}
