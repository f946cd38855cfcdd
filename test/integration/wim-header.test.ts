// readWimInfo against WIMs written by wimlib (regular, pipable exported,
// pipable streamed to a pipe), compared with wiminfo; and the wimapply
// progress parser against real wimapply output.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { hasTool } from '../helpers/env.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWimXml, readWimInfo, type ReadRange, type WimInfo } from '../../ops/windows/wim-header.ts';
import { WimApplyProgressParser, type WimApplyEvent } from '../../ops/windows/wimapply-progress.ts';

const missingWim = ['wimcapture', 'wimappend', 'wiminfo', 'wimexport', 'wimapply'].filter((t) => !hasTool(t));
const skip = missingWim.length > 0 ? `needs ${missingWim.join(', ')}: apt-get install -y wimtools` : false;
if (skip) console.warn(`\n*** SKIPPING wim-header tests: ${skip} ***\n`);
const skipNtfs = skip || (hasTool('mkntfs') ? false : 'needs mkntfs: apt-get install -y ntfs-3g');
if (skipNtfs && !skip) console.warn(`\n*** SKIPPING the NTFS wimapply progress test: ${skipNtfs} ***\n`);

const PAD = 24 * 1024 * 1024;
let dir = '';
let regular = '';
let exported = '';
let streamed = '';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function file(path: string, content: string | Buffer): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
}

/** A readRange over a local file that counts what it reads. */
function fileReader(path: string): { read: ReadRange; bytes: () => number; size: number; close: () => void } {
  const fd = openSync(path, 'r');
  let total = 0;
  return {
    size: statSync(path).size,
    bytes: () => total,
    close: () => closeSync(fd),
    read: async (start, endInclusive) => {
      const b = Buffer.alloc(endInclusive - start + 1);
      const n = readSync(fd, b, 0, b.length, start);
      total += n;
      return b.subarray(0, n);
    },
  };
}

/** wiminfo's text output -> image count and a field map per image. */
function wiminfo(path: string): { imageCount: number; images: Map<string, string>[] } {
  const out = run('wiminfo', [path]);
  const imageCount = Number(/^Image Count:\s+(\d+)$/m.exec(out)?.[1]);
  const images = out
    .split(/^Index:/m)
    .slice(1)
    .map((block) => {
      const fields = new Map<string, string>();
      fields.set('Index', (block.split('\n')[0] as string).trim());
      for (const line of block.split('\n').slice(1)) {
        const m = /^([A-Za-z ]+):\s+(.*)$/.exec(line);
        if (m) fields.set(m[1] as string, (m[2] as string).trim());
      }
      return fields;
    });
  return { imageCount, images };
}

function assertMatchesWiminfo(info: WimInfo, path: string): void {
  const ref = wiminfo(path);
  assert.equal(info.imageCount, ref.imageCount);
  assert.equal(info.images.length, ref.images.length);
  info.images.forEach((img, i) => {
    const fields = ref.images[i] as Map<string, string>;
    // wiminfo prints empty fields (e.g. "Description:") for absent elements.
    const w = { get: (k: string) => fields.get(k) || undefined };
    assert.equal(String(img.index), w.get('Index'));
    assert.equal(img.name, w.get('Name'));
    assert.equal(img.description, w.get('Description'));
    assert.equal(img.displayName, w.get('Display Name'));
    assert.equal(img.editionId, w.get('Edition ID'));
    assert.equal(img.flags, w.get('Flags'));
    assert.equal(img.installationType, w.get('Installation Type'));
    assert.equal(img.productType, w.get('Product Type'));
    assert.equal(String(img.totalBytes), w.get('Total Bytes'));
    assert.equal(String(img.fileCount), w.get('File Count'));
    assert.equal(String(img.dirCount), w.get('Directory Count'));
    if (img.arch !== undefined) assert.equal(img.arch, w.get('Architecture'));
  });
}

function assertTwoImages(info: WimInfo): void {
  assert.equal(info.imageCount, 2);
  const [one, two] = info.images;
  assert.equal(one?.index, 1);
  assert.equal(one?.name, 'Windows Server Standard');
  assert.equal(one?.description, 'Standard edition');
  assert.equal(one?.flags, 'ServerStandard');
  assert.equal(one?.editionId, 'ServerStandard');
  assert.equal(one?.arch, 'x86_64');
  assert.equal(one?.archCode, 9);
  assert.equal(two?.index, 2);
  assert.equal(two?.name, 'Windows Server Datacenter');
  assert.equal(two?.description, 'Datacenter & <more> "quoted"');
  assert.equal(two?.displayName, 'Windows Server 2022 Datacenter (Desktop Experience)');
  assert.equal(two?.flags, 'ServerDatacenter');
  assert.equal(two?.editionId, 'ServerDatacenter');
  assert.equal(two?.installationType, 'Server');
  assert.equal(two?.productType, 'ServerNT');
  assert.equal(two?.systemRoot, 'WINDOWS');
  assert.ok((one?.totalBytes ?? 0) > PAD, 'image 1 holds the padding');
  assert.ok((two?.fileCount ?? 0) > (one?.fileCount ?? 0), 'image 2 has one more file');
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'wim-'));
  const tree = join(dir, 'tree');
  file(join(tree, 'Windows/Boot/EFI/bootmgfw.efi'), 'bootmgfw stand-in');
  file(join(tree, 'Windows/Boot/EFI/memtest.efi'), 'memtest stand-in');
  file(join(tree, 'Windows/Boot/Fonts/wgl4_boot.ttf'), 'font stand-in');
  file(join(tree, 'Windows/System32/winload.efi'), 'winload stand-in');
  file(join(tree, 'Windows/System32/config/SOFTWARE'), 'SOFTWARE hive stand-in');
  file(join(tree, 'Windows/System32/config/SYSTEM'), 'SYSTEM hive stand-in');
  file(join(tree, 'Windows/System32/config/BCD-Template'), 'BCD-Template stand-in');
  file(join(tree, 'pad.bin'), randomBytes(PAD)); // random: stays > 20 MiB compressed
  const tree2 = join(dir, 'tree2');
  run('cp', ['-a', tree, tree2]);
  file(join(tree2, 'Windows/System32/extra.dll'), 'only in image 2');

  regular = join(dir, 'install.wim');
  run('wimcapture', [tree, regular, 'Windows Server Standard', 'Standard edition', '--flags', 'ServerStandard', '--compress=fast']);
  run('wiminfo', [regular, '1', '--image-property', 'WINDOWS/EDITIONID=ServerStandard', '--image-property', 'WINDOWS/ARCH=9']);
  run('wimappend', [tree2, regular, 'Windows Server Datacenter', 'Datacenter & <more> "quoted"', '--flags', 'ServerDatacenter']);
  run('wiminfo', [
    regular,
    '2',
    '--image-property',
    'WINDOWS/EDITIONID=ServerDatacenter',
    '--image-property',
    'WINDOWS/ARCH=9',
    '--image-property',
    'WINDOWS/INSTALLATIONTYPE=Server',
    '--image-property',
    'WINDOWS/PRODUCTTYPE=ServerNT',
    '--image-property',
    'DISPLAYNAME=Windows Server 2022 Datacenter (Desktop Experience)',
  ]);
  exported = join(dir, 'exported-pipable.wim');
  run('wimexport', [regular, 'all', exported, '--pipable']);
  // Captured straight into a pipe, as a registry blob would have been produced.
  streamed = join(dir, 'streamed-pipable.wim');
  const cap = spawnSync('sh', ['-c', `wimcapture "$1" - "Streamed image" --pipable --compress=fast > "$2"`, 'sh', tree, streamed]);
  assert.equal(cap.status, 0, cap.stderr.toString());
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('regular WIM with two images: header and XML via readRange, a few KiB read', { skip }, async () => {
  const r = fileReader(regular);
  try {
    assert.ok(r.size > 20 * 1024 * 1024, `WIM is ${r.size} bytes`);
    const info = await readWimInfo(r.read);
    assert.equal(info.pipable, false);
    assert.equal(info.xmlSource, 'header');
    assert.equal(info.compression, 'xpress');
    assert.equal(info.header.chunkSize, 32768);
    assert.equal(info.header.partNumber, 1);
    assert.equal(info.header.totalParts, 1);
    assert.equal(info.totalBytes, info.header.xmlData.offset, 'WIM TOTALBYTES = where the XML starts');
    assertTwoImages(info);
    assertMatchesWiminfo(info, regular);
    assert.equal(info.bytesRead, r.bytes());
    assert.ok(r.bytes() < 16 * 1024, `read ${r.bytes()} of ${r.size} bytes`);

    const withSize = await readWimInfo(r.read, { size: r.size });
    assert.deepEqual(withSize.images, info.images);
  } finally {
    r.close();
  }
});

test('pipable WIM (wimexport --pipable): the real header is the last 208 bytes', { skip }, async () => {
  const r = fileReader(exported);
  try {
    assert.ok(r.size > 20 * 1024 * 1024);
    // The header at the start has the image count but no XML location.
    const head = await r.read(0, 207);
    assert.equal(head.toString('latin1', 0, 8), 'WLPWM\0\0\0');
    assert.equal(head.readUInt32LE(0x2c), 2);
    assert.equal(
      head.subarray(0x30, 0x60).every((b) => b === 0),
      true,
      'blob table and XML entries are zero',
    );
    const tail = await r.read(r.size - 208, r.size - 1);
    assert.equal(tail.toString('latin1', 0, 8), 'WLPWM\0\0\0');
    assert.ok(tail.readBigUInt64LE(0x50) > 0n, 'the trailing header locates the XML');

    const before = r.bytes();
    const info = await readWimInfo(r.read, { size: r.size });
    assert.equal(info.pipable, true);
    assert.equal(info.xmlSource, 'pipable-trailer');
    assert.equal(info.compression, 'xpress');
    assertTwoImages(info);
    assertMatchesWiminfo(info, exported);
    assert.ok(r.bytes() - before < 16 * 1024, `read ${r.bytes() - before} bytes`);

    // Without the size: the XML copy right after the first header.
    const front = await readWimInfo(r.read);
    assert.equal(front.xmlSource, 'pipable-front-copy');
    assert.deepEqual(front.images, info.images);
    assert.equal(front.totalBytes, undefined, 'the front copy omits the WIM-wide TOTALBYTES');
  } finally {
    r.close();
  }
});

test('pipable WIM captured to a pipe reads the same way', { skip }, async () => {
  const r = fileReader(streamed);
  try {
    const info = await readWimInfo(r.read, { size: r.size });
    assert.equal(info.xmlSource, 'pipable-trailer');
    assert.equal(info.imageCount, 1);
    assert.equal(info.images[0]?.name, 'Streamed image');
    assertMatchesWiminfo(info, streamed);
    const front = await readWimInfo(r.read);
    assert.deepEqual(front.images, info.images);
  } finally {
    r.close();
  }
});

test('wrong input fails with a clear error', { skip }, async () => {
  const r = fileReader(exported);
  try {
    await assert.rejects(readWimInfo(r.read, { size: r.size - 1000 }), /not its header/);
  } finally {
    r.close();
  }
  const junk = Buffer.alloc(4096, 0x41);
  await assert.rejects(
    readWimInfo(async (s, e) => junk.subarray(s, e + 1)),
    /not a WIM file/,
  );
});

test('parseWimXml: a Windows install.wim style document', () => {
  const xml =
    '<WIM><TOTALBYTES>5312345678</TOTALBYTES>' +
    '<IMAGE INDEX="2"><DIRCOUNT>20000</DIRCOUNT><FILECOUNT>90000</FILECOUNT><TOTALBYTES>9876543210</TOTALBYTES>' +
    '<HARDLINKBYTES>123</HARDLINKBYTES><CREATIONTIME><HIGHPART>0x01D7</HIGHPART><LOWPART>0x1234</LOWPART></CREATIONTIME>' +
    '<WINDOWS><ARCH>9</ARCH><PRODUCTNAME>Microsoft® Windows® Operating System</PRODUCTNAME><EDITIONID>ServerDatacenter</EDITIONID>' +
    '<INSTALLATIONTYPE>Server</INSTALLATIONTYPE><PRODUCTTYPE>ServerNT</PRODUCTTYPE><PRODUCTSUITE>Enterprise</PRODUCTSUITE>' +
    '<LANGUAGES><LANGUAGE>en-US</LANGUAGE><LANGUAGE>de-DE</LANGUAGE><DEFAULT>en-US</DEFAULT></LANGUAGES>' +
    '<VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>20348</BUILD><SPBUILD>587</SPBUILD><SPLEVEL>0</SPLEVEL></VERSION>' +
    '<SYSTEMROOT>WINDOWS</SYSTEMROOT></WINDOWS>' +
    '<NAME>Windows Server 2022 SERVERDATACENTER</NAME><DESCRIPTION>Windows Server 2022 SERVERDATACENTER</DESCRIPTION>' +
    '<FLAGS>ServerDatacenter</FLAGS><DISPLAYNAME>Windows Server 2022 Datacenter (Desktop Experience)</DISPLAYNAME>' +
    '<DISPLAYDESCRIPTION>This option installs the full Windows graphical environment &amp; more &#x2014; &#233;</DISPLAYDESCRIPTION></IMAGE>' +
    '<IMAGE INDEX="1"><TOTALBYTES>100</TOTALBYTES><WINDOWS><ARCH>12</ARCH></WINDOWS><NAME>Core</NAME></IMAGE></WIM>';
  const info = parseWimXml(xml);
  assert.equal(info.totalBytes, 5312345678);
  assert.deepEqual(info.images[0], { index: 1, name: 'Core', totalBytes: 100, archCode: 12, arch: 'ARM64' });
  assert.deepEqual(info.images[1], {
    index: 2,
    name: 'Windows Server 2022 SERVERDATACENTER',
    description: 'Windows Server 2022 SERVERDATACENTER',
    displayName: 'Windows Server 2022 Datacenter (Desktop Experience)',
    displayDescription: 'This option installs the full Windows graphical environment & more — é',
    flags: 'ServerDatacenter',
    totalBytes: 9876543210,
    hardLinkBytes: 123,
    fileCount: 90000,
    dirCount: 20000,
    editionId: 'ServerDatacenter',
    productName: 'Microsoft® Windows® Operating System',
    productType: 'ServerNT',
    installationType: 'Server',
    systemRoot: 'WINDOWS',
    archCode: 9,
    arch: 'x86_64',
    languages: ['en-US', 'de-DE'],
    defaultLanguage: 'en-US',
    version: { major: 10, minor: 0, build: 20348, spBuild: 587 },
  });
  // A self-closed element does not swallow its sibling.
  assert.deepEqual(parseWimXml('<WIM><IMAGE INDEX="1"/><IMAGE INDEX="2"><NAME>two</NAME><WIMBOOT>0</WIMBOOT></IMAGE></WIM>').images, [{ index: 1 }, { index: 2, name: 'two' }]);
  assert.throws(() => parseWimXml('<WIM><IMAGE INDEX="1"/><IMAGE INDEX="3"/></WIM>'), /indexes/);
  assert.throws(() => parseWimXml('<WIM><IMAGE INDEX="1"><NAME>x</NAME></WIM>'), /not closed/);
  assert.throws(() => parseWimXml('<NOTWIM/>'), /no <WIM>/);
});

function applyEvents(args: string[]): WimApplyEvent[] {
  const res = spawnSync('wimapply', args, { maxBuffer: 64 << 20 });
  assert.equal(res.status, 0, res.stderr.toString());
  // Feed stdout in odd-sized chunks, as a pipe would deliver it.
  const p = new WimApplyProgressParser();
  const events: WimApplyEvent[] = [];
  for (let i = 0; i < res.stdout.length; i += 37) events.push(...p.push(res.stdout.subarray(i, i + 37)));
  events.push(...p.end());
  return events;
}

test('real wimapply output (directory target) parses into progress events', { skip }, async () => {
  const out = join(dir, 'applied');
  mkdirSync(out);
  const events = applyEvents([regular, '1', out]);
  assert.deepEqual(events[0], { phase: 'start', image: 1, imageName: 'Windows Server Standard', wimFile: regular, targetKind: 'directory', target: out });
  assert.deepEqual(events.at(-1), { phase: 'done' });
  assert.equal(events.filter((e) => e.phase === 'message').length, 0, JSON.stringify(events.filter((e) => e.phase === 'message')));
  const data = events.filter((e) => e.phase === 'extracting-data');
  assert.ok(data.length > 2);
  const last = data.at(-1);
  assert.ok(last && last.phase === 'extracting-data');
  assert.equal(last.unit, 'MiB');
  assert.equal(last.percent, 100);
  const r = fileReader(regular);
  const info = await readWimInfo(r.read).finally(r.close);
  const imageBytes = info.images[0]?.totalBytes ?? 0;
  assert.ok(last.totalBytes !== undefined && imageBytes - last.totalBytes < 2 ** 20 && last.totalBytes <= imageBytes, 'MiB total truncates the image size');
});

test('real wimapply output (NTFS volume, >= 2000 files) includes file creation progress', { skip: skipNtfs }, () => {
  const many = join(dir, 'many');
  for (let i = 0; i < 2100; i++) file(join(many, `d${i % 7}`, `f${i}.txt`), `${i}`);
  const wim = join(dir, 'many.wim');
  run('wimcapture', [many, wim, 'many files', '--compress=none']);
  const vol = join(dir, 'ntfs.img');
  run('truncate', ['-s', '64M', vol]);
  run('mkntfs', ['-F', '-f', '-q', vol]);
  const events = applyEvents([wim, '1', vol]);
  assert.equal(events[0]?.phase === 'start' && events[0].targetKind, 'ntfs');
  const creating = events.filter((e) => e.phase === 'creating-files');
  assert.ok(creating.length >= 2, 'creating-files events');
  const last = creating.at(-1);
  assert.ok(last && last.phase === 'creating-files' && last.done === last.total && last.total >= 2100);
  assert.deepEqual(events.at(-1), { phase: 'done' });
});
