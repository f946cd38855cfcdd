// The BCD store and the regf writer, read back by an independent reader:
// hivex (hivexregedit from libwin-hivex-perl, hivexsh from libhivex-bin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { hasTool } from '../helpers/env.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BCD_GUIDS, bcdStoreTree, buildBcdStore, partitionDeviceElement } from '../../ops/windows/bcd.ts';
import { buildHive, encodeValueData, type RegKey } from '../../ops/windows/regf.ts';

const missing = ['hivexregedit', 'hivexsh'].filter((t) => !hasTool(t));
const skip = missing.length > 0 ? `needs ${missing.join(' and ')}: apt-get install -y libhivex-bin libwin-hivex-perl` : false;
if (skip) console.warn(`\n*** SKIPPING bcd-hivex tests: ${skip} ***\n`);

const PREFIX = 'HKEY_LOCAL_MACHINE\\BCD00000000';

interface RegFileValue {
  type: number;
  data: Buffer;
}

/** Parse `hivexregedit --export` output: key path (relative, no leading backslash) -> value name -> value. */
function parseRegExport(text: string, prefix: string): Map<string, Map<string, RegFileValue>> {
  const keys = new Map<string, Map<string, RegFileValue>>();
  let current: Map<string, RegFileValue> | null = null;
  const lines = text.replace(/\\\r?\n\s*/g, '').split(/\r?\n/);
  for (const line of lines) {
    if (line === '' || line.startsWith('Windows Registry Editor')) continue;
    const key = /^\[(.*)\]$/.exec(line);
    if (key) {
      let path = key[1] as string;
      assert.ok(path.startsWith(prefix), `key ${path} under ${prefix}`);
      path = path.slice(prefix.length).replace(/^\\+|\\+$/g, '');
      current = new Map();
      keys.set(path, current);
      continue;
    }
    const val = /^(@|"((?:[^"\\]|\\.)*)")=(.*)$/.exec(line);
    assert.ok(val && current, `unexpected line: ${line}`);
    const name = val[1] === '@' ? '' : (val[2] as string).replace(/\\(.)/g, '$1');
    const rhs = val[3] as string;
    let parsed: RegFileValue;
    let m: RegExpExecArray | null;
    if ((m = /^dword:([0-9a-f]{8})$/i.exec(rhs))) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(parseInt(m[1] as string, 16));
      parsed = { type: 4, data: b };
    } else if ((m = /^hex(?:\(([0-9a-f]+)\))?:(.*)$/i.exec(rhs))) {
      const hex = (m[2] as string)
        .split(',')
        .filter((x) => x !== '')
        .join('');
      parsed = { type: m[1] === undefined ? 3 : parseInt(m[1], 16), data: Buffer.from(hex, 'hex') };
    } else if ((m = /^"((?:[^"\\]|\\.)*)"$/.exec(rhs))) {
      parsed = { type: 1, data: Buffer.from((m[1] as string).replace(/\\(.)/g, '$1') + '\0', 'utf16le') };
    } else {
      assert.fail(`unparsed value: ${line}`);
    }
    current.set(name, parsed);
  }
  return keys;
}

function exportHive(file: string, prefix = PREFIX): Map<string, Map<string, RegFileValue>> {
  const out = execFileSync('hivexregedit', ['--export', '--prefix', prefix, file, '\\'], { encoding: 'latin1', maxBuffer: 64 << 20 });
  return parseRegExport(out, prefix);
}

function hivexsh(file: string, script: string, write = false): string {
  return execFileSync('hivexsh', [...(write ? ['-w'] : []), file], { input: script, encoding: 'utf8' });
}

const sz = (s: string) => ({ type: 1, data: Buffer.from(s + '\0', 'utf16le') });
const multi = (items: string[]) => ({ type: 7, data: Buffer.from(items.map((s) => s + '\0').join('') + '\0', 'utf16le') });
const bin = (b: Buffer) => ({ type: 3, data: b });
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return bin(b);
};
const dword = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return { type: 4, data: b };
};

// GUIDs chosen so that the on-disk (mixed-endian) form differs from the text.
const DISK = '11223344-5566-7788-99aa-bbccddeeff00';
const ESP = '01234567-89ab-cdef-0123-456789abcdef';
const WIN = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const LOADER = 'deadbeef-0001-4000-8000-000000000001';
const RESUME = 'deadbeef-0002-4000-8000-000000000002';
// The same, written out by hand in on-disk order.
const DISK_BYTES = '4433221166558877' + '99aabbccddeeff00';
const ESP_BYTES = '67452301ab89efcd0123456789abcdef';
const WIN_BYTES = 'd4c3b2a1f6e57b4a8c9d0e1f2a3b4c5d';

test('BCD store: every object, type and element as hivexregedit reads it', { skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bcd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'BCD');
  writeFileSync(
    file,
    buildBcdStore({
      diskGuid: DISK,
      espPartitionGuid: ESP,
      windowsPartitionGuid: WIN,
      loaderGuid: LOADER,
      resumeGuid: RESUME,
      locale: 'de-de',
      description: 'Windows Server 2022',
      timeoutSeconds: 5,
    }),
  );
  const reg = exportHive(file);
  const el = (obj: string, id: string) => reg.get(`Objects\\{${obj}}\\Elements\\${id}`)?.get('Element');

  assert.deepEqual(
    reg.get('Description'),
    new Map([
      ['KeyName', sz('BCD00000000')],
      ['System', dword(1)],
      ['TreatAsSystem', dword(1)],
    ]),
  );

  const objects = [...reg.keys()].filter((k) => /^Objects\\[^\\]+$/.test(k)).map((k) => k.slice('Objects\\'.length));
  const expectedTypes: Record<string, number> = {
    [BCD_GUIDS.bootmgr]: 0x10100002,
    [LOADER]: 0x10200003,
    [RESUME]: 0x10200004,
    [BCD_GUIDS.globalsettings]: 0x20100000,
    [BCD_GUIDS.dbgsettings]: 0x20100000,
    [BCD_GUIDS.emssettings]: 0x20100000,
    [BCD_GUIDS.badmemory]: 0x20100000,
    [BCD_GUIDS.bootloadersettings]: 0x20200003,
    [BCD_GUIDS.hypervisorsettings]: 0x20200003,
    [BCD_GUIDS.resumeloadersettings]: 0x20200004,
  };
  assert.deepEqual(
    objects.sort(),
    Object.keys(expectedTypes)
      .map((g) => `{${g}}`)
      .sort(),
  );
  for (const [guid, type] of Object.entries(expectedTypes)) {
    assert.deepEqual(reg.get(`Objects\\{${guid}}\\Description`)?.get('Type'), dword(type), `type of ${guid}`);
  }

  // Device elements: 88 bytes, GUIDs in on-disk order at 32 (partition) and 56 (disk).
  const device = (partHex: string) =>
    Buffer.from('00'.repeat(16) + '06000000' + '00000000' + '4800000000000000' + partHex + '00000000' + '00000000' + DISK_BYTES + '00'.repeat(16), 'hex');
  assert.equal(device(ESP_BYTES).length, 88);
  assert.deepEqual(partitionDeviceElement(ESP, DISK), device(ESP_BYTES));

  const bm = BCD_GUIDS.bootmgr;
  assert.deepEqual(el(bm, '11000001'), bin(device(ESP_BYTES)));
  assert.deepEqual(el(bm, '12000002'), sz('\\EFI\\Microsoft\\Boot\\bootmgfw.efi'));
  assert.deepEqual(el(bm, '12000004'), sz('Windows Boot Manager'));
  assert.deepEqual(el(bm, '12000005'), sz('de-de'));
  assert.deepEqual(el(bm, '14000006'), multi([`{${BCD_GUIDS.globalsettings}}`]));
  assert.deepEqual(el(bm, '23000003'), sz(`{${LOADER}}`));
  assert.deepEqual(el(bm, '23000006'), sz(`{${RESUME}}`));
  assert.deepEqual(el(bm, '24000001'), multi([`{${LOADER}}`]));
  assert.deepEqual(el(bm, '25000004'), u64(5));

  assert.deepEqual(el(LOADER, '11000001'), bin(device(WIN_BYTES)));
  assert.deepEqual(el(LOADER, '21000001'), bin(device(WIN_BYTES)));
  assert.deepEqual(el(LOADER, '12000002'), sz('\\Windows\\system32\\winload.efi'));
  assert.deepEqual(el(LOADER, '12000004'), sz('Windows Server 2022'));
  assert.deepEqual(el(LOADER, '12000005'), sz('de-de'));
  assert.deepEqual(el(LOADER, '22000002'), sz('\\Windows'));
  assert.deepEqual(el(LOADER, '14000006'), multi([`{${BCD_GUIDS.bootloadersettings}}`]));
  assert.deepEqual(el(LOADER, '23000003'), sz(`{${RESUME}}`));
  assert.deepEqual(el(LOADER, '16000060'), bin(Buffer.from([1])));
  assert.deepEqual(el(LOADER, '17000077'), u64(0x15000075));
  assert.deepEqual(el(LOADER, '25000020'), u64(0));
  assert.deepEqual(el(LOADER, '250000c2'), u64(1));

  assert.deepEqual(el(RESUME, '11000001'), bin(device(WIN_BYTES)));
  assert.deepEqual(el(RESUME, '12000002'), sz('\\Windows\\system32\\winresume.efi'));
  assert.deepEqual(el(RESUME, '22000002'), sz('\\hiberfil.sys'));
  assert.deepEqual(el(RESUME, '14000006'), multi([`{${BCD_GUIDS.resumeloadersettings}}`]));

  assert.deepEqual(el(BCD_GUIDS.bootloadersettings, '14000006'), multi([`{${BCD_GUIDS.globalsettings}}`, `{${BCD_GUIDS.hypervisorsettings}}`]));
  assert.deepEqual(el(BCD_GUIDS.globalsettings, '14000006'), multi([`{${BCD_GUIDS.dbgsettings}}`, `{${BCD_GUIDS.emssettings}}`, `{${BCD_GUIDS.badmemory}}`]));
  assert.deepEqual(el(BCD_GUIDS.dbgsettings, '15000011'), u64(4));
  assert.deepEqual(el(BCD_GUIDS.emssettings, '16000020'), bin(Buffer.from([0])));
  assert.deepEqual(el(BCD_GUIDS.hypervisorsettings, '250000f5'), u64(115200));

  // Every key the builder made is there, and nothing else.
  const { tree } = bcdStoreTree({ diskGuid: DISK, espPartitionGuid: ESP, windowsPartitionGuid: WIN, loaderGuid: LOADER, resumeGuid: RESUME });
  assert.deepEqual(
    [...reg.keys()].sort(),
    flatten(tree)
      .map(([p]) => p)
      .sort(),
  );
});

test('BCD store: hivexsh navigates it, and can modify and commit it', { skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bcd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'BCD');
  writeFileSync(file, buildBcdStore({ diskGuid: DISK, espPartitionGuid: ESP, windowsPartitionGuid: WIN, loaderGuid: LOADER, resumeGuid: RESUME }));

  const ls = hivexsh(file, 'cd \\Objects\nls\n').trim().split('\n');
  assert.equal(ls.length, 10);
  assert.ok(ls.includes(`{${LOADER}}`));
  const lsval = hivexsh(file, `cd \\Objects\\{${LOADER}}\\Elements\\12000002\nlsval\n`).trim();
  assert.equal(lsval, '"Element"="\\\\Windows\\\\system32\\\\winload.efi"');
  const typ = hivexsh(file, `cd \\Objects\\{${BCD_GUIDS.bootmgr}}\\Description\nlsval Type\n`).trim();
  assert.equal(Number(typ), 0x10100002);

  // Modify: add an object, change the timeout, delete an element; commit; read back.
  const edited = join(dir, 'BCD.edited');
  copyFileSync(file, edited);
  hivexsh(
    edited,
    [
      'cd \\Objects',
      'add {00000000-0000-4000-8000-0000000000aa}',
      'cd {00000000-0000-4000-8000-0000000000aa}',
      'add Description',
      'cd Description',
      'setval 1',
      'Type',
      'dword:0x10200003',
      `cd \\Objects\\{${BCD_GUIDS.bootmgr}}\\Elements\\25000004`,
      'setval 1',
      'Element',
      'hex:3:0a,00,00,00,00,00,00,00',
      `cd \\Objects\\{${LOADER}}\\Elements\\250000c2`,
      'del',
      'commit',
      '',
    ].join('\n'),
    true,
  );
  const reg = exportHive(edited);
  assert.deepEqual(reg.get('Objects\\{00000000-0000-4000-8000-0000000000aa}\\Description')?.get('Type'), dword(0x10200003));
  assert.deepEqual(reg.get(`Objects\\{${BCD_GUIDS.bootmgr}}\\Elements\\25000004`)?.get('Element'), u64(10));
  assert.equal(reg.has(`Objects\\{${LOADER}}\\Elements\\250000c2`), false);
  assert.deepEqual(reg.get(`Objects\\{${LOADER}}\\Elements\\12000002`)?.get('Element'), sz('\\Windows\\system32\\winload.efi'));
  assert.notDeepEqual(readFileSync(edited), readFileSync(file));
});

/** [path, values] of every key below the root, paths relative to the root (root itself is ''). */
function flatten(key: RegKey, path = ''): [string, Map<string, RegFileValue>][] {
  const values = new Map((key.values ?? []).map((v) => [v.name, encodeValueData(v)] as const));
  const out: [string, Map<string, RegFileValue>][] = [[path, values]];
  for (const c of key.children ?? []) out.push(...flatten(c, path === '' ? c.name : `${path}\\${c.name}`));
  return out;
}

test('a large synthetic tree (many bins, an ri-split list) round-trips through hivexregedit', { skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'regf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tree: RegKey = {
    name: 'ROOT',
    values: [{ name: '', type: 'REG_SZ', data: 'default value' }],
    children: [
      { name: 'Wide', children: Array.from({ length: 700 }, (_, i) => ({ name: `Key_${String(i).padStart(4, '0')}` })) },
      ...Array.from({ length: 30 }, (_, i) => ({
        name: `Group${i}`,
        values: [
          { name: 'Index', type: 'REG_DWORD' as const, data: i },
          { name: 'Big', type: 'REG_QWORD' as const, data: BigInt(i) * 0x100000001n },
          { name: 'Names', type: 'REG_MULTI_SZ' as const, data: [`a${i}`, `b${i}`] },
          { name: 'Path', type: 'REG_EXPAND_SZ' as const, data: `%SystemRoot%\\g${i}` },
        ],
        children: Array.from({ length: 12 }, (_, j) => ({
          name: `item-${j}`,
          values: [
            { name: 'Text', type: 'REG_SZ' as const, data: `value ${i}/${j} ü€` },
            { name: 'Bytes', type: 'REG_BINARY' as const, data: Buffer.alloc((i * 12 + j) % 40, i + j) },
          ],
        })),
      })),
      { name: 'Blob', values: [{ name: 'b', type: 'REG_BINARY', data: Buffer.alloc(9000, 0x5a) }] },
    ],
  };
  const hive = buildHive(tree);
  let hbins = 0;
  for (let off = 4096; off < hive.length; off += 4096) if (hive.toString('latin1', off, off + 4) === 'hbin') hbins++;
  assert.ok(hbins >= 10, `hbins: ${hbins}`);
  const file = join(dir, 'big.hiv');
  writeFileSync(file, hive);

  const reg = exportHive(file, 'HKEY_LOCAL_MACHINE\\TEST');
  const expected = flatten(tree);
  assert.equal(reg.size, expected.length);
  for (const [path, values] of expected) {
    assert.deepEqual(reg.get(path), values, `key "${path}"`);
  }

  // Non-ASCII key names (stored UTF-16LE) as hivexsh prints them.
  const small = join(dir, 'names.hiv');
  writeFileSync(small, buildHive({ name: 'R', children: [{ name: 'Ärger' }, { name: 'zebra' }, { name: 'Ωmega' }] }));
  assert.deepEqual(hivexsh(small, 'ls\n').trim().split('\n'), ['zebra', 'Ärger', 'Ωmega']);
});
