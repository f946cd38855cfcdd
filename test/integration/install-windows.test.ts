// issue 5 end to end: `shoal-install install` of a Windows WIM from a real registry onto a loop-device disk,
// read back with independent tools (sgdisk, ntfs-3g/getfattr, ntfsinfo, mtools, hivexregedit); and the faults
// that must fail before or during the write.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InstallEvent } from '../../ops/events.ts';
import { guidToBytes } from '../../ops/windows/guid.ts';
import { resultOf, runCli, type CliRun } from '../helpers/cli.ts';
import { attachLoop, loopsOf, makeDiskImage, sh, sha256File } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { corruptBlob, pushArtifact, startRegistry, type PushedArtifact, type TestRegistry } from '../helpers/registry.ts';
import {
  BOOT_FILES,
  buildWindowsWims,
  IMAGE2_MARKER,
  SD_FILE,
  SHORT_NAME,
  SHORT_NAME_DIR,
  SMALL_FILES,
  STREAM,
  STREAM_FILE,
  SYSTEM_FILE_SD,
  WINDOWS_TREE_TOOLS,
  type WindowsWims,
} from '../helpers/windows-tree.ts';

const TOOLS = [...WINDOWS_TREE_TOOLS, 'docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'wimapply', 'mcopy', 'mdir', 'mtype', 'hivexget', 'hivexregedit', 'ntfsinfo', 'losetup'];
const UNATTEND =
  '<?xml version="1.0"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend"><AdministratorPassword><Value>Sup3r-Secret-Pa55</Value></AdministratorPassword></unattend>\n';
const SECRET = 'Sup3r-Secret-Pa55';
const WIM_ARTIFACT = 'application/vnd.shoal.windows.wim';

let work: string;
let registry: TestRegistry;
let wims: WindowsWims;
let corruptWim: string;
let corruptDigest: string;
let regular: PushedArtifact;

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-win-it-'));
  registry = await startRegistry();
  wims = await buildWindowsWims(join(work, 'wims'));
  await pushArtifact(registry, 'os-images/windows:pipable', wims.pipable, { mediaType: WIM_ARTIFACT, artifactType: WIM_ARTIFACT, title: 'install.wim' });
  // An opaque layer type: the WIM is recognised by its title, then by its magic bytes.
  regular = await pushArtifact(registry, 'os-images/windows:regular', wims.regular, { mediaType: 'application/octet-stream', artifactType: WIM_ARTIFACT, title: 'install.wim' });
  // A blob of its own (one image, pipable) so that damaging it in the registry's storage touches no other tag.
  corruptWim = join(work, 'wims', 'corrupt.wim');
  execFileSync('wimexport', [wims.regular, '1', corruptWim, '--pipable'], { stdio: 'ignore' });
  // Also unlabelled (opaque type, no .wim title): only the bytes say it is a (pipable) WIM.
  corruptDigest = (
    await pushArtifact(registry, 'os-images/windows:corrupt', corruptWim, { mediaType: 'application/octet-stream', artifactType: WIM_ARTIFACT, title: 'windows-image' })
  ).digest;
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The Shoal example Windows recipe (examples/windows.json) pointed at this registry and disk. */
async function recipeFile(name: string, tag: string, disk: string, extra: Record<string, unknown> = {}): Promise<string> {
  const example = JSON.parse(await readFile(new URL('../../examples/windows.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const recipe = { ...example, target_disk: disk, oci_url: `${registry.host}/os-images/windows:${tag}`, unattend_xml: { content: UNATTEND }, ...extra };
  const path = join(work, `${name}.json`);
  await writeFile(path, JSON.stringify(recipe));
  return path;
}

type Ev<T extends InstallEvent['type']> = Extract<InstallEvent, { type: T }>;
const ofType = <T extends InstallEvent['type']>(r: CliRun, type: T) => r.events.filter((e): e is Ev<T> => e.type === type);
const logLines = (r: CliRun) => ofType(r, 'log').map((e) => `${e.level}: ${e.message}`);
const explain = (r: CliRun) => `exit ${r.code}\n${r.stderr}\n${r.stdout.slice(-4000)}`;

async function install(name: string, tag: string, extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  const disk = makeDiskImage(join(work, `${name}.img`), '1G');
  const recipe = await recipeFile(name, tag, disk, extra);
  const logPath = join(work, `${name}.jsonl`);
  const run = await runCli(['install', '--recipe', recipe, '--yes', '--json', '--log', logPath], { env, noFirmware: true });
  return { disk, recipe, run, logPath };
}

/** The listing line: how many bytes the Range requests read, of how many. */
function listingBytes(r: CliRun): { read: number; size: number } {
  const line = logLines(r).find((l) => l.includes('listed '));
  const m = /reading (\d+) bytes of (\d+)/.exec(line ?? '');
  assert.ok(m, `a listing log line:\n${logLines(r).join('\n')}`);
  return { read: Number(m[1]), size: Number(m[2]) };
}

function progressChecks(r: CliRun) {
  const progress = ofType(r, 'progress').filter((e) => e.step === 'image-windows.service');
  const download = progress.filter((e) => e.phase === undefined);
  const apply = progress.filter((e) => e.phase === 'apply');
  const creating = progress.filter((e) => e.phase === 'apply: creating files');
  assert.ok(download.length >= 1 && download.at(-1)!.bytes === download.at(-1)!.total, 'the download reaches the blob size');
  assert.ok(apply.length >= 1 && apply.at(-1)!.bytes === apply.at(-1)!.total, `wimapply's "Extracting file data" as progress: ${JSON.stringify(apply.at(-1))}`);
  assert.ok(creating.length >= 1 && creating.every((e) => e.unit === 'files'), 'wimapply\'s "Creating files" as progress, counted in files');
  assert.ok(creating.at(-1)!.total! >= SMALL_FILES);
  return { download, apply, creating };
}

// ------------------------------------------------------------ reading the installed disk back

/** `hivexregedit --export` -> key path -> value name -> raw rhs text. */
function exportBcd(file: string): Map<string, Map<string, string>> {
  const prefix = 'HKEY_LOCAL_MACHINE\\BCD00000000';
  const text = execFileSync('hivexregedit', ['--export', '--prefix', prefix, file, '\\'], { encoding: 'latin1' }).replace(/\\\r?\n\s*/g, '');
  const keys = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const key = /^\[(.*)\]$/.exec(line);
    if (key) keys.set(key[1]!.slice(prefix.length).replace(/^\\/, ''), (current = new Map()));
    const val = /^"((?:[^"\\]|\\.)*)"=(.*)$/.exec(line);
    if (val) current.set(val[1]!, val[2]!);
  }
  return keys;
}

const hexBytes = (rhs: string | undefined) =>
  Buffer.from(
    (rhs ?? '')
      .replace(/^hex(\([0-9a-f]+\))?:/, '')
      .split(',')
      .join(''),
    'hex',
  );
/** REG_SZ / REG_MULTI_SZ exported as hex(1)/hex(7) (UTF-16LE) or as a quoted string. */
const regText = (rhs: string | undefined) => (rhs?.startsWith('"') ? rhs.slice(1, -1).replace(/\\(.)/g, '$1') : hexBytes(rhs).toString('utf16le').replace(/\0+$/, ''));

async function withImage<T>(disk: string, body: (part: (n: number) => string) => Promise<T>): Promise<T> {
  const loop = attachLoop(disk, { partscan: true, readOnly: true });
  try {
    sh(`partprobe ${loop} || true; for i in $(seq 50); do [ -b ${loop}p3 ] && break; sleep 0.1; done`);
    return await body((n) => `${loop}p${n}`);
  } finally {
    sh(`losetup -d ${loop}`);
  }
}

async function withNtfs<T>(dev: string, body: (root: string) => Promise<T>): Promise<T> {
  const mnt = await mkdtemp(join(work, 'ntfs-'));
  sh(`ntfs-3g -o ro,streams_interface=xattr ${dev} ${mnt}`);
  try {
    return await body(mnt);
  } finally {
    sh(`umount ${mnt}`);
    await rm(mnt, { recursive: true, force: true });
  }
}

const mtools = (args: string[]) => execFileSync(args[0]!, args.slice(1), { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, encoding: 'latin1' });

/** The run's own loop device and mounts only (its mounts live in its namespace: runCli's noFirmware), never host-wide. */
function assertNothingLeft(disk: string, run: CliRun) {
  assert.equal(loopsOf(disk), '', 'the loop device was detached');
  assert.deepEqual(run.leftMounted, [], 'nothing left mounted');
}

// ------------------------------------------------------------ tests

test('pipable WIM streamed from the registry: GPT, NTFS tree with ACLs/short names/streams, ESP, BCD, unattend', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'streamed.img'), '1G');
  const recipe = await recipeFile('streamed', 'pipable', disk);

  const plan = await runCli(['plan', '--recipe', recipe], { noFirmware: true });
  assert.equal(plan.code, 0, plan.stderr);
  for (const want of [
    /mkfs\.ntfs --fast --force -p \d+ -H 255 -S 63 -L Windows \/dev\/loopNp?3/,
    /\| wimapply - 1 \/dev\/loopNp?3/,
    /wimapply '<that file>' 1 \/dev\/loopNp?3/,
    /ntfs-3g \/dev\/loopNp?3 \/run\/shoal-install\/windows-XXXX/,
    /write Windows\/Panther\/unattend\.xml/,
    /mmd -i \/dev\/loopNp?1 ::\/EFI ::\/EFI\/Microsoft ::\/EFI\/Microsoft\/Boot/,
    /mcopy -s -o -Q -i \/dev\/loopNp?1 '\/run\/shoal-install\/windows-XXXX\/Windows\/Boot\/EFI\/\*' ::\/EFI\/Microsoft\/Boot\//,
    /mcopy -o -i \/dev\/loopNp?1 \S+\/BCD ::\/EFI\/Microsoft\/Boot\/BCD/,
    /mcopy -o -i \/dev\/loopNp?1 \S+bootmgfw\.efi ::\/EFI\/Boot\/bootx64\.efi/,
    /no efivars: no firmware boot entry/,
  ]) {
    assert.match(plan.stdout, want);
  }
  assert.ok(!plan.stdout.includes(SECRET));

  const logPath = join(work, 'streamed.jsonl');
  const run = await runCli(['install', '--recipe', recipe, '--yes', '--json', '--log', logPath], { noFirmware: true });
  assert.equal(run.code, 0, explain(run));
  const result = resultOf(run)!;
  assert.equal(result.ok, true);
  assert.deepEqual(
    result.steps.map((s) => s.step),
    ['partition.service', 'image-windows.service', 'bootloader-windows.service'],
  );
  assertNothingLeft(disk, run);

  // Listing, progress, logs.
  const listed = listingBytes(run);
  assert.ok(listed.read * 100 < listed.size, `the WIM was listed with ${listed.read} of ${listed.size} bytes`);
  t.diagnostic(`WIM listing read ${listed.read} of ${listed.size} bytes`);
  progressChecks(run);
  const logs = logLines(run);
  assert.ok(
    logs.some((l) => l.includes(`will apply image 1 "${wims.names[0]}" (edition ServerStandard`)),
    logs.join('\n'),
  );
  assert.ok(logs.some((l) => l.includes('the WIM is pipable: streaming it')));
  assert.ok(logs.some((l) => /unattend\.xml: \d+ bytes, sha256 [0-9a-f]{16} -> Windows\/Panther\/unattend\.xml/.test(l)));
  assert.ok(logs.some((l) => l.includes('the image is generalized (IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE')));
  assert.ok(
    logs.some((l) => l.startsWith('warn: no efivars here')),
    'no efivars (the firmware is hidden from the install, whatever the host): a warning, not a failure',
  );
  const fullLog = await readFile(logPath, 'utf8');
  assert.ok(!run.stdout.includes(SECRET) && !fullLog.includes(SECRET), 'the unattend content is never logged');

  // GPT: types, names, GUIDs.
  const info = [1, 2, 3].map((n) => sh(`sgdisk --info=${n} ${disk}`));
  assert.match(info[0]!, /Partition GUID code: C12A7328-F81F-11D2-BA4B-00A0C93EC93B/);
  assert.match(info[1]!, /Partition GUID code: E3C9E316-0B5C-4DB8-817D-F92DF00215AE/);
  assert.match(info[2]!, /Partition GUID code: EBD0A0A2-B9E5-4433-87C0-68B6B72699C7/);
  const uniq = info.map((s) => /Partition unique GUID: (\S+)/.exec(s)![1]!.toLowerCase());
  assert.deepEqual(
    uniq,
    result.partitions.map((p) => p.partGuid.toLowerCase()),
  );
  const diskGuid = /Disk identifier \(GUID\): (\S+)/.exec(sh(`sgdisk --print ${disk}`))![1]!.toLowerCase();

  await withImage(disk, async (part) => {
    assert.equal(sh(`blkid --probe --output value --match-tag TYPE ${part(3)}`).trim(), 'ntfs');
    assert.equal(sh(`blkid --probe --output value --match-tag TYPE ${part(1)}`).trim(), 'vfat');
    assert.equal(sh(`blkid --probe --output value --match-tag TYPE ${part(2)} || true`).trim(), '', 'the MSR has no filesystem');
    // NTFS geometry written by mkntfs: the partition's real start sector, 255 heads, 63 sectors per track.
    const boot = Buffer.alloc(512);
    const fh = await open(part(3), 'r');
    await fh.read(boot, 0, 512, 0).finally(() => fh.close());
    assert.equal(boot.readUInt16LE(0x18), 63, 'sectors per track');
    assert.equal(boot.readUInt16LE(0x1a), 255, 'heads');
    assert.equal(boot.readUInt32LE(0x1c), Number(/First sector: (\d+)/.exec(info[2]!)![1]), 'hidden sectors = the partition start');

    // The tree, as Windows would see it: security descriptors, 8.3 names, named streams.
    assert.match(sh(`ntfsinfo -F '/${SHORT_NAME_DIR}' ${part(3)}`), new RegExp(`Namespace:\\s+DOS\\s+Filename:\\s+'${SHORT_NAME}'`));
    await withNtfs(part(3), async (root) => {
      const acl = /system\.ntfs_acl=0x([0-9a-f]+)/.exec(sh(`getfattr -e hex -n system.ntfs_acl ${join(root, SD_FILE)}`))?.[1];
      assert.equal(acl, SYSTEM_FILE_SD.toString('hex'), 'the security descriptor from the WIM');
      assert.equal(sh(`getfattr --only-values -n system.ntfs_dos_name '${join(root, SHORT_NAME_DIR)}'`), SHORT_NAME);
      assert.equal(sh(`getfattr --only-values -n user.${STREAM.name} ${join(root, STREAM_FILE)}`), STREAM.value);
      assert.equal(Number(sh(`find ${join(root, 'Windows/WinSxS')} -type f | wc -l`).trim()), SMALL_FILES);
      assert.equal(sh(`ls ${join(root, IMAGE2_MARKER)} 2>/dev/null || true`).trim(), '', 'image 1, not image 2');
      assert.equal(await readFile(join(root, 'Windows/Panther/unattend.xml'), 'utf8'), UNATTEND);
      for (const [rel, content] of Object.entries(BOOT_FILES)) assert.equal(await readFile(join(root, rel), 'utf8'), content);
    });

    // The ESP, read without mounting it.
    const esp = part(1);
    const tree = mtools(['mdir', '-/', '-b', '-i', esp, '::/']);
    assert.equal(mtools(['mtype', '-i', esp, '::/EFI/Boot/bootx64.efi']), BOOT_FILES['Windows/Boot/EFI/bootmgfw.efi']);
    assert.equal(mtools(['mtype', '-i', esp, '::/EFI/Microsoft/Boot/bootmgfw.efi']), BOOT_FILES['Windows/Boot/EFI/bootmgfw.efi']);
    assert.equal(mtools(['mtype', '-i', esp, '::/EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui']), BOOT_FILES['Windows/Boot/EFI/en-US/bootmgfw.efi.mui']);
    assert.equal(mtools(['mtype', '-i', esp, '::/EFI/Microsoft/Boot/Fonts/segmono_boot.ttf']), BOOT_FILES['Windows/Boot/Fonts/segmono_boot.ttf']);
    assert.equal(mtools(['mtype', '-i', esp, '::/EFI/Microsoft/Boot/Resources/bootres.dll']), BOOT_FILES['Windows/Boot/Resources/bootres.dll']);
    assert.ok(!/Fonts\/Fonts|Boot\/EFI\//i.test(tree), tree);

    // The BCD store, read by hivex: objects, elements, and the very GUIDs of this GPT.
    const bcd = join(work, 'BCD-streamed');
    mtools(['mcopy', '-o', '-i', esp, '::/EFI/Microsoft/Boot/BCD', bcd]);
    const reg = exportBcd(bcd);
    const el = (obj: string, id: string) => reg.get(`Objects\\{${obj}}\\Elements\\${id}`)?.get('Element');
    const bootmgr = '9dea862c-5cdd-4e70-acc1-f32b344d4795';
    assert.equal(reg.get('Description')?.get('KeyName') !== undefined, true);
    assert.equal(reg.get(`Objects\\{${bootmgr}}\\Description`)?.get('Type'), 'dword:10100002');
    assert.equal(regText(el(bootmgr, '12000002')), '\\EFI\\Microsoft\\Boot\\bootmgfw.efi');
    const loader = regText(el(bootmgr, '23000003')).replace(/[{}]/g, '');
    assert.equal(reg.get(`Objects\\{${loader}}\\Description`)?.get('Type'), 'dword:10200003');
    assert.equal(regText(el(loader, '12000002')), '\\Windows\\system32\\winload.efi');
    assert.equal(regText(el(loader, '22000002')), '\\Windows');
    const device = (partGuid: string) => {
      const b = Buffer.alloc(88);
      b.writeUInt32LE(6, 16);
      b.writeBigUInt64LE(0x48n, 24);
      guidToBytes(partGuid).copy(b, 32);
      guidToBytes(diskGuid).copy(b, 56);
      return b.toString('hex');
    };
    assert.equal(hexBytes(el(bootmgr, '11000001')).toString('hex'), device(uniq[0]!), 'boot manager device = the ESP of this GPT');
    assert.equal(hexBytes(el(loader, '11000001')).toString('hex'), device(uniq[2]!), 'loader device = the Windows partition');
    assert.equal(hexBytes(el(loader, '21000001')).toString('hex'), device(uniq[2]!), 'OS device = the Windows partition');
  });
});

test('regular WIM staged, wim_index 2: the second image, staging and apply progress, a not-generalized warning', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const staging = join(work, 'staging');
  await mkdir(staging);
  const { disk, run } = await install('staged', 'regular', { wim_index: 2 }, { SHOAL_STAGING_DIR: staging });
  assert.equal(run.code, 0, explain(run));
  assertNothingLeft(disk, run);
  const logs = logLines(run);
  assert.ok(
    logs.some((l) => l.includes(`will apply image 2 "${wims.names[1]}" (edition ServerDatacenter`)),
    logs.join('\n'),
  );
  assert.ok(
    logs.some((l) => l.includes(`staging`) && l.includes(`in ${staging} (SHOAL_STAGING_DIR names it`)),
    logs.join('\n'),
  );
  assert.ok(
    logs.some((l) => l.startsWith('warn: the image does not look generalized: its image state is IMAGE_STATE_COMPLETE')),
    logs.join('\n'),
  );
  const listed = listingBytes(run);
  assert.ok(listed.read * 100 < listed.size, `listed with ${listed.read} of ${listed.size} bytes`);
  const { download, apply } = progressChecks(run);
  // Staged: the whole download ends before the apply starts.
  assert.ok(run.events.indexOf(download.at(-1)!) < run.events.indexOf(apply[0]!), 'download, then apply');
  assert.equal(sh(`ls -A ${staging}`).trim(), '', 'the staged WIM was removed');
  await withImage(disk, (part) =>
    withNtfs(part(3), async (root) => {
      assert.equal(await readFile(join(root, IMAGE2_MARKER), 'utf8'), 'only in image 2\r\n');
      assert.equal(await readFile(join(root, 'Windows/Panther/unattend.xml'), 'utf8'), UNATTEND);
    }),
  );
});

async function assertRefusedUnchanged(name: string, tag: string, extra: Record<string, unknown>, env: NodeJS.ProcessEnv, message: RegExp) {
  const disk = makeDiskImage(join(work, `${name}.img`), '1G');
  sh(`printf 'existing data' | dd of=${disk} bs=1 seek=1048576 conv=notrunc status=none`);
  const before = await sha256File(disk);
  const recipe = await recipeFile(name, tag, disk, extra);
  const run = await runCli(['install', '--recipe', recipe, '--yes', '--json'], { env, noFirmware: true });
  assert.equal(run.code, 1, explain(run));
  const result = resultOf(run)!;
  assert.equal(result.failedStep, 'image-windows.service');
  assert.match(result.message ?? '', message);
  assert.equal(ofType(run, 'step-start').length, 0, 'no step started: refused in preflight');
  assert.equal(await sha256File(disk), before, 'the disk image is byte for byte unchanged');
  assertNothingLeft(disk, run);
  return run;
}

/** What the registry's access log says it sent for a blob: status and bytes written per GET. */
async function blobGets(digest: string): Promise<{ status: number; written: number }[]> {
  const log = await readFile(join(registry.dir, 'registry.log'), 'utf8');
  return log
    .split('\n')
    .filter((l) => l.includes('msg="response completed"') && l.includes('http.request.method=GET') && l.includes(`/blobs/${digest}`))
    .map((l) => ({ status: Number(/http\.response\.status=(\d+)/.exec(l)![1]), written: Number(/http\.response\.written=(\d+)/.exec(l)![1]) }));
}

test('a wim_index the WIM does not have: refused before partitioning, disk unchanged, the WIM listed with a few KiB', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const before = (await blobGets(regular.digest)).length;
  const run = await assertRefusedUnchanged(
    'bad-index',
    'regular',
    { wim_index: 3 },
    {},
    /wim_index 3 is not in .*the WIM holds 2 image\(s\) \(1: Windows Server 2022 SERVERSTANDARD \[ServerStandard\]; 2: /,
  );
  // Measured at the registry, not by the client: only Range requests (206), and only the header and the XML.
  const gets = (await blobGets(regular.digest)).slice(before);
  const sent = gets.reduce((n, g) => n + g.written, 0);
  assert.ok(gets.length >= 2 && gets.every((g) => g.status === 206), JSON.stringify(gets));
  assert.equal(sent, listingBytes(run).read, 'the logged byte count is what the registry sent');
  assert.ok(sent * 1000 < regular.size, `${sent} of ${regular.size} bytes`);
  t.diagnostic(`the registry sent ${sent} of the WIM's ${regular.size} bytes in ${gets.length} Range requests`);
});

test('not enough staging space for a regular WIM: refused with a clear message, disk unchanged', async (t) => {
  if (!skipUnless(t, [...TOOLS, 'mount'])) return;
  const tiny = join(work, 'tiny');
  await mkdir(tiny);
  sh(`mount -t tmpfs -o size=4m tmpfs ${tiny}`);
  try {
    const run = await assertRefusedUnchanged(
      'no-space',
      'regular',
      {},
      { SHOAL_STAGING_DIR: tiny },
      /not enough space to stage the WIM in .*tiny \(SHOAL_STAGING_DIR\): it needs .* free/,
    );
    const fail = ofType(run, 'step-fail')[0]!;
    assert.match(fail.hint ?? '', /SHOAL_STAGING_DIR.*--pipable/);
  } finally {
    sh(`umount ${tiny}`);
  }
});

test('a damaged blob in the registry: image-windows.service fails', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  // One byte flipped in the middle of the stored blob (same size, so only the digest check can tell).
  corruptBlob(registry, corruptDigest);
  const { disk, run } = await install('corrupt', 'corrupt');
  assert.equal(run.code, 1, explain(run));
  const result = resultOf(run)!;
  assert.equal(result.failedStep, 'image-windows.service');
  assert.ok(
    ofType(run, 'command').some((e) => e.command.startsWith('wimapply - 1 ')),
    'an unlabelled pipable WIM is recognised and streamed',
  );
  assert.match(result.message ?? '', /digest|damaged|wimapply/);
  t.diagnostic(`damaged blob: ${result.message}`);
  assertNothingLeft(disk, run);
});
