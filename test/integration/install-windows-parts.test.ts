// The pieces of the Windows workflow against real tools, without a registry: the mounted-volume check, the
// staging space check on a tiny tmpfs, feeding a consumer that stops early, the ESP through mtools, the image
// state read by hivexget, case-insensitive lookups, and the parsers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { InstallEvent } from '../../ops/events.ts';
import { run } from '../../ops/exec.ts';
import { ImageSession } from '../../ops/image-source.ts';
import { ProgressMeter } from '../../ops/progress.ts';
import type { StepContext } from '../../ops/runner.ts';
import { locateBootFiles } from '../../ops/windows/boot-files.ts';
import { findPath } from '../../ops/windows/ci-path.ts';
import { parseBootEntries, writeFirmwareEntry } from '../../ops/windows/efi-entry.ts';
import { checkEsp, espCommands, MTOOLS_ENV } from '../../ops/windows/esp.ts';
import { feedThenDrain } from '../../ops/windows/feed.ts';
import { sgdiskGuid } from '../../ops/windows/gpt-check.ts';
import { checkGeneralized, parseStateIni } from '../../ops/windows/image-state.ts';
import { parseMountinfo } from '../../ops/mountinfo.ts';
import { assertNotMounted } from '../../ops/windows/ntfs-volume.ts';
import { chooseStaging, STAGING_ENV } from '../../ops/windows/staging.ts';
import { placeUnattend } from '../../ops/windows/unattend.ts';
import { attachLoop, sh } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';
import { BOOT_FILES, GENERALIZED, NOT_GENERALIZED, softwareHive } from '../helpers/windows-tree.ts';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-winparts-'));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A StepContext with real exec and every event collected. */
function fakeContext(events: InstallEvent[]): StepContext {
  const step = 'image-windows.service' as const;
  return {
    plan: {} as StepContext['plan'],
    state: { partitionDevices: {}, fsUuids: {}, image: new ImageSession() },
    step,
    signal: new AbortController().signal,
    exec: (argv, o) => run(argv, o),
    spawn: () => {
      throw new Error('not used');
    },
    log: (message, level = 'info') => events.push({ type: 'log', at: '', level, step, message }),
    meter: (total, label) => new ProgressMeter(total, (p) => events.push({ type: 'progress', at: '', step, ...p, ...label })),
    defer: () => undefined,
    inputs: {},
  };
}

const logs = (events: InstallEvent[], level?: string) =>
  events.filter((e): e is Extract<InstallEvent, { type: 'log' }> => e.type === 'log' && (!level || e.level === level)).map((e) => e.message);

test('case-insensitive lookups find Windows paths in any case; an exact match wins', async () => {
  const root = join(work, 'ci');
  await mkdir(join(root, 'WINDOWS/boot/EFI'), { recursive: true });
  await writeFile(join(root, 'WINDOWS/boot/EFI/BOOTMGFW.EFI'), 'x');
  assert.equal(await findPath(root, 'Windows/Boot/EFI/bootmgfw.efi'), join(root, 'WINDOWS/boot/EFI/BOOTMGFW.EFI'));
  assert.equal(await findPath(root, 'Windows/Boot/Fonts'), undefined);
  await mkdir(join(root, 'Windows'));
  assert.equal(await findPath(root, 'Windows'), join(root, 'Windows'));
  const src = await locateBootFiles(root).catch((e: Error) => e);
  assert.ok(src instanceof Error && /no Windows\/Boot\/EFI\/bootmgfw.efi/.test(src.message), 'an exact "Windows" dir without boot files is refused');
});

test('parsers: mountinfo, efibootmgr -v, sgdisk, State.ini', () => {
  const rows = parseMountinfo('36 35 259:3 / /run/shoal-install/windows-ab\\040c rw,relatime shared:1 - fuseblk /dev/loop0p3 rw,user_id=0\n');
  assert.deepEqual(rows, [{ devNumber: '259:3', mountpoint: '/run/shoal-install/windows-ab c', fstype: 'fuseblk', source: '/dev/loop0p3' }]);
  const entries = parseBootEntries(
    'BootCurrent: 0001\nBootOrder: 0003,0001\n' +
      'Boot0001* debian\tHD(1,GPT,0B5B1F5C-1111-4222-8333-944455556666,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)\n' +
      'Boot0003* Windows Boot Manager\tHD(1,GPT,aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,0x800,0xfa000)/File(\\EFI\\Microsoft\\Boot\\bootmgfw.efi)WINDOWS.\n' +
      'Boot0004* UEFI Shell\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(7c04a583-9e3e-4f1c-ad65-e05268d0b4d1)\n',
  );
  assert.deepEqual(entries, [
    { num: '0001', label: 'debian', partGuid: '0b5b1f5c-1111-4222-8333-944455556666' },
    { num: '0003', label: 'Windows Boot Manager', partGuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' },
    { num: '0004', label: 'UEFI Shell', partGuid: undefined },
  ]);
  assert.equal(
    sgdiskGuid('Disk /dev/loop0: 2097152 sectors\nDisk identifier (GUID): 0B5B1F5C-1111-4222-8333-944455556666\n', 'Disk identifier (GUID)'),
    '0b5b1f5c-1111-4222-8333-944455556666',
  );
  assert.equal(parseStateIni(Buffer.from('[State]\r\nImageState=IMAGE_STATE_COMPLETE\r\n')), 'IMAGE_STATE_COMPLETE');
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('[State]\r\nImageState=IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE\r\n', 'utf16le')]);
  assert.equal(parseStateIni(utf16), 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE');
});

test('feedThenDrain: a consumer that stops early still lets the whole source be read (for its digest)', async () => {
  const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const source = Readable.from(chunks);
  const sink = new PassThrough({ highWaterMark: 16 });
  let taken = 0;
  sink.on('data', (d: Buffer) => {
    taken += d.length;
    if (taken >= 256 * 1024) sink.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  });
  const r = await feedThenDrain(source, sink);
  assert.equal(r.fed + r.drained, 64 * 64 * 1024);
  assert.ok(r.drained > 0 && r.fed < 64 * 64 * 1024, JSON.stringify(r));

  // A slow consumer: many backpressure waits, and no listener left behind by any of them.
  const slow = new PassThrough({ highWaterMark: 1024 });
  let got = 0;
  slow.on('data', (d: Buffer) => {
    got += d.length;
    slow.pause();
    setImmediate(() => slow.resume());
  });
  const ended = new Promise((resolve) => slow.once('end', resolve));
  const many = await feedThenDrain(Readable.from(Array.from({ length: 200 }, () => Buffer.alloc(4096))), slow);
  const left = { close: slow.listenerCount('close'), error: slow.listenerCount('error'), drain: slow.listenerCount('drain') };
  assert.ok(left.close <= 3 && left.error <= 2 && left.drain === 0, `listeners left behind: ${JSON.stringify(left)}`);
  assert.equal(many.fed, 200 * 4096);
  await ended;
  assert.equal(got, 200 * 4096);

  const failing = new Readable({
    read() {
      this.destroy(new Error('digest mismatch'));
    },
  });
  await assert.rejects(feedThenDrain(failing, new PassThrough()), /digest mismatch/);
});

test('staging: refused with a clear message when the staging directory is too small', async (t) => {
  if (!skipUnless(t, ['mount'])) return;
  const tiny = join(work, 'tiny');
  await mkdir(tiny);
  sh(`mount -t tmpfs -o size=16m tmpfs ${tiny}`);
  try {
    const env = { [STAGING_ENV]: tiny };
    await assert.rejects(chooseStaging(100 * 1024 * 1024, env), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`not enough space to stage the WIM in ${tiny} \\(SHOAL_STAGING_DIR\\): it needs 165 MiB \\(the 100 MiB WIM \\+ 65\\.0 MiB margin\\), 16\\.0 MiB is free`),
      );
      assert.match((e as Error & { hint: string }).hint, /--pipable/);
      return true;
    });
    const ok = await chooseStaging(1024, { [STAGING_ENV]: work });
    assert.equal(ok.dir, work);
    await assert.rejects(chooseStaging(1, { [STAGING_ENV]: join(work, 'nope') }), /is not a directory/);
  } finally {
    sh(`umount ${tiny}`);
  }
});

test('assertNotMounted: refuses a mounted partition, names the mountpoint; accepts it once unmounted', async (t) => {
  if (!skipUnless(t, ['losetup', 'sgdisk', 'partprobe', 'mkntfs', 'ntfs-3g'])) return;
  const img = join(work, 'mounted.img');
  sh(`truncate -s 64M ${img} && sgdisk --new=1:2048:0 --typecode=1:0700 ${img} >/dev/null`);
  const loop = attachLoop(img, { partscan: true });
  const mnt = join(work, 'mnt');
  try {
    sh(`partprobe ${loop}; for i in $(seq 50); do [ -b ${loop}p1 ] && break; sleep 0.1; done; mkntfs -f -q -p 2048 -H 255 -S 63 ${loop}p1`);
    await assertNotMounted(`${loop}p1`);
    await mkdir(mnt);
    sh(`ntfs-3g ${loop}p1 ${mnt}`);
    await assert.rejects(assertNotMounted(`${loop}p1`), (e: Error) => e.message.includes(`is mounted at ${mnt} (fuseblk)`));
    sh(`umount ${mnt}`);
    await assertNotMounted(`${loop}p1`);
  } finally {
    sh(`umount ${mnt} 2>/dev/null || true; losetup -d ${loop}`);
  }
});

test('ESP through mtools: the bcdboot layout, read back with mdir/mtype', async (t) => {
  if (!skipUnless(t, ['mkfs.vfat', 'mcopy', 'mmd', 'mdir', 'mtype'])) return;
  const root = join(work, 'win');
  for (const [rel, content] of Object.entries(BOOT_FILES)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), content);
  }
  const esp = join(work, 'esp.img');
  sh(`truncate -s 64M ${esp} && mkfs.vfat -F 32 ${esp} >/dev/null`);
  const bcd = join(work, 'BCD');
  await writeFile(bcd, 'bcd stand-in');
  const events: InstallEvent[] = [];
  const ctx = fakeContext(events);
  for (const cmd of espCommands(esp, await locateBootFiles(root), bcd)) await ctx.exec(cmd, { env: MTOOLS_ENV });
  await checkEsp(ctx, esp);
  const mtype = (p: string) => execFileSync('mtype', ['-i', esp, p], { env: { ...process.env, ...MTOOLS_ENV }, encoding: 'utf8' });
  assert.equal(mtype('::/EFI/Microsoft/Boot/bootmgfw.efi'), BOOT_FILES['Windows/Boot/EFI/bootmgfw.efi']);
  assert.equal(mtype('::/EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui'), BOOT_FILES['Windows/Boot/EFI/en-US/bootmgfw.efi.mui']);
  assert.equal(mtype('::/EFI/Microsoft/Boot/Fonts/wgl4_boot.ttf'), BOOT_FILES['Windows/Boot/Fonts/wgl4_boot.ttf']);
  assert.equal(mtype('::/EFI/Microsoft/Boot/Resources/en-US/bootres.dll.mui'), BOOT_FILES['Windows/Boot/Resources/en-US/bootres.dll.mui']);
  assert.equal(mtype('::/EFI/Boot/bootx64.efi'), BOOT_FILES['Windows/Boot/EFI/bootmgfw.efi']);
  assert.equal(mtype('::/EFI/Microsoft/Boot/BCD'), 'bcd stand-in');
  const listing = execFileSync('mdir', ['-/', '-b', '-i', esp, '::/'], { env: { ...process.env, ...MTOOLS_ENV }, encoding: 'utf8' });
  assert.ok(!/Fonts\/Fonts|Boot\/EFI\//.test(listing), `no nested copies:\n${listing}`);
});

test('image state: hivexget reads ImageState from a SOFTWARE hive; a non-generalized image warns; unattend is placed, never logged', async (t) => {
  if (!skipUnless(t, ['hivexget'])) return;
  for (const [state, warns] of [
    [GENERALIZED, false],
    [NOT_GENERALIZED, true],
  ] as const) {
    const root = join(work, `state-${state}`);
    await mkdir(join(root, 'Windows/System32/config'), { recursive: true });
    await writeFile(join(root, 'Windows/System32/config/SOFTWARE'), softwareHive(state));
    const events: InstallEvent[] = [];
    await checkGeneralized(fakeContext(events), root);
    assert.equal(logs(events, 'warn').length, warns ? 1 : 0, JSON.stringify(events));
    assert.ok(logs(events).some((m) => m.includes(state)));
  }
  const root = join(work, 'state-ini');
  await mkdir(join(root, 'windows/setup/state'), { recursive: true });
  await writeFile(join(root, 'windows/setup/state/State.ini'), '[State]\r\nImageState=IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE\r\n');
  const events: InstallEvent[] = [];
  const ctx = fakeContext(events);
  await checkGeneralized(ctx, root);
  assert.equal(logs(events, 'warn').length, 0, 'State.ini is the fallback');

  const xml = Buffer.from('<unattend><AdministratorPassword>sekrit-pass-1234</AdministratorPassword></unattend>');
  const rel = await placeUnattend(ctx, root, xml);
  assert.equal(rel, 'windows/Panther/unattend.xml', 'the existing "windows" directory is reused');
  assert.deepEqual(await readFile(join(root, rel)), xml);
  assert.ok(!JSON.stringify(events).includes('sekrit'), 'the content is never logged');
  assert.ok(logs(events).some((m) => /unattend\.xml: \d+ bytes, sha256 [0-9a-f]{16}/.test(m)));
});

test('firmware entry: stale "Windows Boot Manager" entries (partition gone) are removed, live ones kept (efibootmgr faked)', async (t) => {
  if (!skipUnless(t, ['losetup', 'sgdisk', 'partprobe', 'blkid'])) return;
  // No efivars here: a stand-in efibootmgr prints a listing and records its calls.
  const img = join(work, 'efi-disk.img');
  sh(`truncate -s 64M ${img} && sgdisk --new=1:2048:0 --typecode=1:ef00 ${img} >/dev/null`);
  const live = /Partition unique GUID: (\S+)/.exec(sh(`sgdisk --info=1 ${img}`))![1]!.toLowerCase();
  const gone = '0b5b1f5c-1111-4222-8333-944455556666';
  const bin = join(work, 'fake-bin');
  const calls = join(work, 'efibootmgr.calls');
  await mkdir(bin, { recursive: true });
  const listing = [
    'BootOrder: 0003,0004,0005',
    `Boot0003* Windows Boot Manager\tHD(1,GPT,${gone},0x800,0xfa000)/File(\\EFI\\Microsoft\\Boot\\bootmgfw.efi)`,
    `Boot0004* Windows Boot Manager\tHD(1,GPT,${live},0x800,0xfa000)/File(\\EFI\\Microsoft\\Boot\\bootmgfw.efi)`,
    `Boot0005* debian\tHD(1,GPT,${gone},0x800,0xfa000)/File(\\EFI\\debian\\shimx64.efi)`,
  ].join('\n');
  await writeFile(join(bin, 'efibootmgr'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\n[ "$1" = -v ] && printf '%b\\n' '${listing.replaceAll("'", '')}'\nexit 0\n`, {
    mode: 0o755,
  });
  const loop = attachLoop(img, { partscan: true });
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  try {
    sh(`partprobe ${loop}; for i in $(seq 50); do [ -b ${loop}p1 ] && break; sleep 0.1; done`);
    const events: InstallEvent[] = [];
    await writeFirmwareEntry(fakeContext(events), loop, 1);
    const made = (await readFile(calls, 'utf8')).trim().split('\n');
    assert.deepEqual(made, [
      '-v',
      '--quiet --bootnum 0003 --delete-bootnum',
      `--create --disk ${loop} --part 1 --label Windows Boot Manager --loader \\EFI\\Microsoft\\Boot\\bootmgfw.efi`,
    ]);
    assert.ok(logs(events).some((m) => m.includes('Boot0003') && m.includes(gone)));
  } finally {
    process.env.PATH = path;
    sh(`losetup -d ${loop}`);
  }
});
