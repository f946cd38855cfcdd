// A synthetic "Windows-like" install.wim for the Windows workflow tests.
//
// Why an NTFS volume in between: a WIM captured from a Linux directory holds no
// Windows security descriptors and no 8.3 short names, so an install test could
// not show that they survive. The tree is written into an NTFS volume image
// through ntfs-3g (which gives every file a security descriptor; we set a
// distinctive one, a short name and a named stream on chosen files), then
// captured with wimlib's NTFS-3G capture mode, as a real install.wim carries them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildHive } from '../../ops/windows/regf.ts';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

/** Tools this helper needs (tests skip loudly without them). */
export const WINDOWS_TREE_TOOLS = ['mkntfs', 'ntfs-3g', 'wimcapture', 'wimappend', 'wimexport', 'wiminfo', 'setfattr', 'getfattr'];

// ------------------------------------------------------------ security descriptors
// Self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6): what ntfs-3g's system.ntfs_acl reads and writes.

function sid(text: string): Buffer {
  const [, rev, auth, ...subs] = text.split('-');
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = Number(rev);
  b[1] = subs.length;
  b.writeUIntBE(Number(auth), 2, 6);
  subs.forEach((s, i) => b.writeUInt32LE(Number(s), 8 + 4 * i));
  return b;
}

function ace(mask: number, who: string, flags = 0): Buffer {
  const s = sid(who);
  const b = Buffer.alloc(8 + s.length);
  b[0] = 0; // ACCESS_ALLOWED_ACE_TYPE
  b[1] = flags;
  b.writeUInt16LE(b.length, 2);
  b.writeUInt32LE(mask, 4);
  s.copy(b, 8);
  return b;
}

function securityDescriptor(owner: string, group: string, aces: Buffer[]): Buffer {
  const o = sid(owner);
  const g = sid(group);
  const aclBody = Buffer.concat(aces);
  const acl = Buffer.alloc(8);
  acl[0] = 2; // ACL_REVISION
  acl.writeUInt16LE(8 + aclBody.length, 2);
  acl.writeUInt16LE(aces.length, 4);
  const head = Buffer.alloc(20);
  head[0] = 1; // revision
  head.writeUInt16LE(0x8004, 2); // SE_SELF_RELATIVE | SE_DACL_PRESENT
  head.writeUInt32LE(20, 4); // owner
  head.writeUInt32LE(20 + o.length, 8); // group
  head.writeUInt32LE(0, 12); // no SACL
  head.writeUInt32LE(20 + o.length + g.length, 16); // DACL
  return Buffer.concat([head, o, g, acl, aclBody]);
}

const TRUSTED_INSTALLER = 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464';
/** As on a real System32 file: owned by TrustedInstaller, others may read and execute. */
export const SYSTEM_FILE_SD = securityDescriptor(TRUSTED_INSTALLER, 'S-1-5-18', [
  ace(0x001f01ff, TRUSTED_INSTALLER),
  ace(0x001200a9, 'S-1-5-32-544'),
  ace(0x001200a9, 'S-1-5-18'),
  ace(0x001200a9, 'S-1-5-32-545'),
]);

// ------------------------------------------------------------ the tree

export const GENERALIZED = 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE';
export const NOT_GENERALIZED = 'IMAGE_STATE_COMPLETE';

/** The SOFTWARE hive, reduced to what an installer reads offline: the sysprep image state. */
export function softwareHive(imageState: string): Buffer {
  const chain = ['Microsoft', 'Windows', 'CurrentVersion', 'Setup'];
  let key = { name: 'State', values: [{ name: 'ImageState', type: 'REG_SZ' as const, data: imageState }] } as Parameters<typeof buildHive>[0];
  for (const name of chain.reverse()) key = { name, children: [key] };
  return buildHive({ name: 'ROOT', children: [key] });
}

/** Files whose content the tests check on the ESP after the install (path in the image -> content). */
export const BOOT_FILES: Record<string, string> = {
  'Windows/Boot/EFI/bootmgfw.efi': 'MZ bootmgfw stand-in\n',
  'Windows/Boot/EFI/bootmgr.efi': 'MZ bootmgr stand-in\n',
  'Windows/Boot/EFI/memtest.efi': 'MZ memtest stand-in\n',
  'Windows/Boot/EFI/en-US/bootmgfw.efi.mui': 'mui stand-in\n',
  'Windows/Boot/Fonts/wgl4_boot.ttf': 'font stand-in\n',
  'Windows/Boot/Fonts/segmono_boot.ttf': 'font 2 stand-in\n',
  'Windows/Boot/Resources/bootres.dll': 'bootres stand-in\n',
  'Windows/Boot/Resources/en-US/bootres.dll.mui': 'bootres mui stand-in\n',
};

export const SD_FILE = 'Windows/System32/winload.efi';
export const SHORT_NAME_DIR = 'Program Files';
export const SHORT_NAME = 'PROGRA~1';
export const STREAM_FILE = 'Windows/System32/drivers/etc/hosts';
export const STREAM = { name: 'Zone.Identifier', value: '[ZoneTransfer]\r\nZoneId=3\r\n' };
export const IMAGE2_MARKER = 'Windows/System32/image2.marker';
export const SMALL_FILES = 2400;

async function put(root: string, rel: string, content: string | Buffer) {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), content);
}

async function writeTree(root: string, padBytes: number): Promise<void> {
  for (const [rel, content] of Object.entries(BOOT_FILES)) await put(root, rel, content);
  await put(root, SD_FILE, 'MZ winload stand-in\n');
  await put(root, 'Windows/System32/winresume.efi', 'MZ winresume stand-in\n');
  await put(root, 'Windows/System32/config/SOFTWARE', softwareHive(GENERALIZED));
  await put(root, 'Windows/System32/config/BCD-Template', 'BCD-Template stand-in\n');
  await put(root, STREAM_FILE, '127.0.0.1 localhost\r\n');
  await put(root, `${SHORT_NAME_DIR}/Common Files/readme.txt`, 'short names are kept\r\n');
  await put(root, 'Windows/System32/pad.bin', randomBytes(padBytes)); // random: the WIM stays about this big
  // >= 2000 files, so wimapply prints "Creating files" progress.
  for (let i = 0; i < SMALL_FILES; i++) await put(root, `Windows/WinSxS/m${i % 40}/f${i}.txt`, `manifest ${i}\r\n`);
  sh('setfattr', ['-n', 'system.ntfs_acl', '-v', `0x${SYSTEM_FILE_SD.toString('hex')}`, join(root, SD_FILE)]);
  sh('setfattr', ['-n', 'system.ntfs_dos_name', '-v', SHORT_NAME, join(root, SHORT_NAME_DIR)]);
  sh('setfattr', ['-n', `user.${STREAM.name}`, '-v', STREAM.value, join(root, STREAM_FILE)]);
}

async function withNtfsMount(volume: string, mnt: string, body: (root: string) => Promise<void>): Promise<void> {
  await mkdir(mnt, { recursive: true });
  sh('ntfs-3g', ['-o', 'streams_interface=xattr', volume, mnt]);
  try {
    await body(mnt);
  } finally {
    sh('umount', [mnt]);
  }
}

export interface WindowsWims {
  /** A regular (not pipable) WIM with two images: 1 generalized, 2 not (and with IMAGE2_MARKER). */
  regular: string;
  /** The same two images, exported pipable. */
  pipable: string;
  names: [string, string];
}

/** Build both WIMs under `dir`; `padBytes` of random data make the blob big enough to show its progress. */
export async function buildWindowsWims(dir: string, padBytes = 8 * 1024 * 1024): Promise<WindowsWims> {
  await mkdir(dir, { recursive: true });
  const volume = join(dir, 'source-ntfs.img');
  const mnt = join(dir, 'source-mnt');
  sh('truncate', ['-s', `${Math.ceil((padBytes * 2) / (1 << 20)) + 96}M`, volume]);
  sh('mkntfs', ['-F', '-f', '-q', volume]);
  await withNtfsMount(volume, mnt, (root) => writeTree(root, padBytes));

  const names: [string, string] = ['Windows Server 2022 SERVERSTANDARD', 'Windows Server 2022 SERVERDATACENTER'];
  const regular = join(dir, 'install.wim');
  sh('wimcapture', [volume, regular, names[0], 'Test Standard', '--flags', 'ServerStandard', '--compress=fast']);
  sh('wiminfo', [regular, '1', '--image-property', 'WINDOWS/EDITIONID=ServerStandard', '--image-property', 'WINDOWS/ARCH=9']);

  await withNtfsMount(volume, mnt, async (root) => {
    await writeFile(join(root, IMAGE2_MARKER), 'only in image 2\r\n');
    await writeFile(join(root, 'Windows/System32/config/SOFTWARE'), softwareHive(NOT_GENERALIZED));
  });
  sh('wimappend', [volume, regular, names[1], 'Test Datacenter', '--flags', 'ServerDatacenter']);
  sh('wiminfo', [regular, '2', '--image-property', 'WINDOWS/EDITIONID=ServerDatacenter', '--image-property', 'WINDOWS/ARCH=9']);

  const pipable = join(dir, 'install-pipable.wim');
  sh('wimexport', [regular, 'all', pipable, '--pipable']);
  await rm(volume, { force: true });
  return { regular, pipable, names };
}
