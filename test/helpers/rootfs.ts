import { sh } from './disk.ts';
import { chmod, chown, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A small Linux-like tree whose metadata a careless extract would lose: numeric owners with no
 * name in the maintenance OS, setuid, a sticky dir, an xattr, an ACL, a symlink and a hard link.
 */
export async function makeRootfsTree(dir: string, extraBytes = 0): Promise<void> {
  for (const d of ['etc', 'usr/bin', 'usr/lib', 'var/lib/app', 'tmp', 'boot/efi', 'home/user']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'usr/lib/os-release'), 'ID=shoaltest\nNAME="Shoal Test Linux"\nVERSION_ID=1\n');
  await symlink('../usr/lib/os-release', join(dir, 'etc/os-release'));
  await writeFile(join(dir, 'etc/hostname'), 'unset\n');
  await writeFile(join(dir, 'usr/bin/tool'), '#!/bin/sh\necho tool\n');
  await chmod(join(dir, 'usr/bin/tool'), 0o4755);
  await link(join(dir, 'usr/bin/tool'), join(dir, 'usr/bin/tool-hardlink'));
  await writeFile(join(dir, 'var/lib/app/data'), 'owned by 1234:5678\n');
  await chown(join(dir, 'var/lib/app/data'), 1234, 5678);
  await chown(join(dir, 'var/lib/app'), 1234, 5678);
  await chmod(join(dir, 'tmp'), 0o1777);
  await chown(join(dir, 'home/user'), 4321, 4321);
  await chmod(join(dir, 'home/user'), 0o700);
  sh(`setfattr -n user.shoal -v kept ${join(dir, 'var/lib/app/data')}`);
  sh(`setfacl -m u:2000:rwx ${join(dir, 'var/lib/app')}`);
  if (extraBytes > 0) sh(`head -c ${extraBytes} /dev/urandom > ${join(dir, 'usr/lib/blob.bin')}`);
}

export type Compression = 'gzip' | 'zstd' | 'xz' | 'none';
const COMPRESS: Record<Compression, string> = { gzip: 'pigz -c', zstd: 'zstd -q -T0 -c', xz: 'xz -T0 -c', none: 'cat' };

/** Pack the tree as Shoal's images are made: paths relative to /, numeric owners, xattrs and ACLs. */
export function packRootfs(dir: string, out: string, compression: Compression): void {
  sh(`tar --create --numeric-owner --xattrs --xattrs-include='*' --acls -C ${dir} . | ${COMPRESS[compression]} > ${out}`);
}
