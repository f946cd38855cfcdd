import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LEAF_MAX,
  MAX_SINGLE_CELL_DATA,
  baseBlockChecksum,
  buildHive,
  compareKeyNames,
  defaultSecurityDescriptor,
  encodeValueData,
  lhHash,
  type RegKey,
} from '../../ops/windows/regf.ts';

// A small reader written against the format description, not the writer:
// it walks bins and cells, checks the invariants Windows checks, and rebuilds the tree.

interface ReadKey {
  name: string;
  flags: number;
  list?: 'lh' | 'ri';
  values: Map<string, { type: number; data: Buffer; inline: boolean }>;
  children: ReadKey[];
}

function readHive(file: Buffer): { root: ReadKey; bins: { offset: number; size: number }[]; sk: number[] } {
  assert.equal(file.toString('latin1', 0, 4), 'regf');
  assert.equal(file.readUInt32LE(4), file.readUInt32LE(8), 'sequence numbers equal');
  assert.equal(file.readUInt32LE(20), 1, 'major version');
  assert.equal(file.readUInt32LE(24), 5, 'minor version');
  assert.equal(file.readUInt32LE(28), 0, 'primary file');
  assert.equal(file.readUInt32LE(32), 1, 'direct memory load');
  assert.equal(file.readUInt32LE(508), baseBlockChecksum(file.subarray(0, 4096)), 'checksum');
  const binsSize = file.readUInt32LE(40);
  assert.equal(file.length, 4096 + binsSize, 'file = base block + bins');
  const hb = file.subarray(4096);

  // Bins tile the data; cells tile each bin.
  const bins: { offset: number; size: number }[] = [];
  const allocated = new Set<number>();
  for (let off = 0; off < binsSize;) {
    assert.equal(hb.toString('latin1', off, off + 4), 'hbin', `hbin at ${off}`);
    assert.equal(hb.readUInt32LE(off + 4), off, 'hbin offset field');
    const size = hb.readUInt32LE(off + 8);
    assert.ok(size >= 4096 && size % 4096 === 0, `hbin size ${size}`);
    let c = off + 32;
    while (c < off + size) {
      const raw = hb.readInt32LE(c);
      const len = Math.abs(raw);
      assert.ok(len >= 8 && len % 8 === 0, `cell size ${raw} at ${c}`);
      if (raw < 0) allocated.add(c);
      c += len;
    }
    assert.equal(c, off + size, 'cells end exactly at the bin end');
    bins.push({ offset: off, size });
    off += size;
  }

  const cell = (off: number) => {
    assert.ok(allocated.has(off), `offset ${off} is an allocated cell`);
    return hb.subarray(off + 4, off + Math.abs(hb.readInt32LE(off)));
  };
  const skSeen: number[] = [];
  const readKey = (off: number, parent: number | null): ReadKey => {
    const nk = cell(off);
    assert.equal(nk.toString('latin1', 0, 2), 'nk');
    const flags = nk.readUInt16LE(2);
    if (parent !== null) assert.equal(nk.readUInt32LE(16), parent, 'parent offset');
    const nameLen = nk.readUInt16LE(72);
    const name = flags & 0x20 ? nk.toString('latin1', 76, 76 + nameLen) : nk.toString('utf16le', 76, 76 + nameLen);
    const sk = nk.readUInt32LE(44);
    const skCell = cell(sk);
    assert.equal(skCell.toString('latin1', 0, 2), 'sk');
    if (!skSeen.includes(sk)) skSeen.push(sk);

    const values = new Map<string, { type: number; data: Buffer; inline: boolean }>();
    const nValues = nk.readUInt32LE(36);
    let maxValueName = 0;
    let maxData = 0;
    if (nValues > 0) {
      const list = cell(nk.readUInt32LE(40));
      for (let i = 0; i < nValues; i++) {
        const vk = cell(list.readUInt32LE(4 * i));
        assert.equal(vk.toString('latin1', 0, 2), 'vk');
        const vnLen = vk.readUInt16LE(2);
        const vname = vk.readUInt16LE(16) & 1 ? vk.toString('latin1', 20, 20 + vnLen) : vk.toString('utf16le', 20, 20 + vnLen);
        const size = vk.readUInt32LE(4);
        const inline = (size & 0x80000000) !== 0;
        const len = size & 0x7fffffff;
        const data = inline ? Buffer.from(vk.subarray(8, 8 + len)) : Buffer.from(cell(vk.readUInt32LE(8)).subarray(0, len));
        if (inline) assert.ok(len <= 4);
        values.set(vname, { type: vk.readUInt32LE(12), data, inline });
        maxValueName = Math.max(maxValueName, vname.length * 2);
        maxData = Math.max(maxData, len);
      }
    } else {
      assert.equal(nk.readUInt32LE(40), 0xffffffff);
    }
    assert.equal(nk.readUInt32LE(60), maxValueName, 'largest value name');
    assert.equal(nk.readUInt32LE(64), maxData, 'largest value data');

    const nSub = nk.readUInt32LE(20);
    const children: ReadKey[] = [];
    if (nSub > 0) {
      const listOff = nk.readUInt32LE(28);
      const list = cell(listOff);
      const sig = list.toString('latin1', 0, 2);
      const leaves = sig === 'ri' ? Array.from({ length: list.readUInt16LE(2) }, (_, i) => list.readUInt32LE(4 + 4 * i)) : [listOff];
      if (sig === 'ri') assert.ok(leaves.length > 1);
      for (const leafOff of leaves) {
        const leaf = cell(leafOff);
        assert.equal(leaf.toString('latin1', 0, 2), 'lh');
        const n = leaf.readUInt16LE(2);
        assert.ok(n <= LEAF_MAX);
        for (let i = 0; i < n; i++) {
          const child = readKey(leaf.readUInt32LE(4 + 8 * i), off);
          assert.equal(leaf.readUInt32LE(8 + 8 * i), lhHash(child.name), `hash of ${child.name}`);
          children.push(child);
        }
      }
      assert.equal(children.length, nSub, 'subkey count');
      for (let i = 1; i < children.length; i++) {
        assert.ok(compareKeyNames((children[i - 1] as ReadKey).name, (children[i] as ReadKey).name) < 0, 'subkeys sorted');
      }
      assert.equal(nk.readUInt32LE(52), Math.max(...children.map((c) => c.name.length * 2)), 'largest subkey name');
    } else {
      assert.equal(nk.readUInt32LE(28), 0xffffffff);
    }
    const list = nSub > 0 ? (cell(nk.readUInt32LE(28)).toString('latin1', 0, 2) as 'lh' | 'ri') : undefined;
    return { name, flags, list, values, children };
  };

  const root = readKey(file.readUInt32LE(36), null);
  return { root, bins, sk: skSeen };
}

function count(k: ReadKey): number {
  return 1 + k.children.reduce((n, c) => n + count(c), 0);
}

function find(k: ReadKey, path: string): ReadKey {
  let cur = k;
  for (const part of path.split('\\').filter(Boolean)) {
    const next = cur.children.find((c) => c.name.toUpperCase() === part.toUpperCase());
    assert.ok(next, `key ${path} (missing ${part})`);
    cur = next;
  }
  return cur;
}

const fixed = new Date('2024-01-02T03:04:05Z');

test('a small hive is structurally valid and holds what was given', () => {
  const hive = buildHive(
    {
      name: 'ROOT',
      values: [
        { name: '', type: 'REG_SZ', data: 'default' },
        { name: 'Str', type: 'REG_SZ', data: 'hello' },
        { name: 'Dw', type: 'REG_DWORD', data: 0xdeadbeef },
        { name: 'Qw', type: 'REG_QWORD', data: 0x1122334455667788n },
        { name: 'Multi', type: 'REG_MULTI_SZ', data: ['a', 'bc'] },
        { name: 'Bin3', type: 'REG_BINARY', data: Buffer.from([1, 2, 3]) },
        { name: 'Raw', type: 0x1234, data: Buffer.from('xyzzy') },
        { name: 'Ünïcode', type: 'REG_EXPAND_SZ', data: '%SystemRoot%\\ü' },
      ],
      children: [{ name: 'b', children: [{ name: 'deep' }] }, { name: 'A' }, { name: 'Ärger' }],
    },
    { timestamp: fixed, fileName: '\\Boot\\BCD' },
  );
  const { root, bins, sk } = readHive(hive);
  assert.equal(hive.readBigUInt64LE(12), (BigInt(fixed.getTime()) + 11644473600000n) * 10000n, 'timestamp');
  assert.equal(hive.toString('utf16le', 48, 48 + 18), '\\Boot\\BCD');
  assert.equal(bins.length, 1);
  assert.equal(root.name, 'ROOT');
  assert.equal(root.flags & 0x0c, 0x0c, 'root is HIVE_ENTRY | NO_DELETE');
  assert.deepEqual(
    root.children.map((c) => c.name),
    ['A', 'b', 'Ärger'],
  );
  assert.equal(find(root, 'b\\deep').name, 'deep');

  const v = root.values;
  assert.equal(v.get('')?.data.toString('utf16le'), 'default\0');
  assert.deepEqual(v.get('Str'), { type: 1, data: Buffer.from('hello\0', 'utf16le'), inline: false });
  assert.deepEqual(v.get('Dw'), { type: 4, data: Buffer.from('efbeadde', 'hex'), inline: true });
  assert.deepEqual(v.get('Qw'), { type: 11, data: Buffer.from('8877665544332211', 'hex'), inline: false });
  assert.deepEqual(v.get('Multi'), { type: 7, data: Buffer.from('a\0bc\0\0', 'utf16le'), inline: false });
  assert.deepEqual(v.get('Bin3'), { type: 3, data: Buffer.from([1, 2, 3]), inline: true });
  assert.deepEqual(v.get('Raw'), { type: 0x1234, data: Buffer.from('xyzzy'), inline: false });
  assert.equal(v.get('Ünïcode')?.data.toString('utf16le'), '%SystemRoot%\\ü\0');

  // One shared security cell, a circular list of one, counting every key.
  assert.equal(sk.length, 1);
  const skOff = sk[0] as number;
  const skCell = hive.subarray(4096 + skOff + 4);
  assert.equal(skCell.readUInt32LE(4), skOff, 'flink');
  assert.equal(skCell.readUInt32LE(8), skOff, 'blink');
  assert.equal(skCell.readUInt32LE(12), count(root), 'reference count');
  assert.deepEqual(skCell.subarray(20, 20 + skCell.readUInt32LE(16)), defaultSecurityDescriptor());
});

test('the security descriptor is self-relative with owner, group and a two-ACE DACL', () => {
  const sd = defaultSecurityDescriptor();
  assert.equal(sd[0], 1);
  assert.equal(sd.readUInt16LE(2), 0x8004);
  const owner = sd.readUInt32LE(4);
  const group = sd.readUInt32LE(8);
  const dacl = sd.readUInt32LE(16);
  assert.equal(sd.readUInt32LE(12), 0, 'no SACL');
  assert.equal(sd.subarray(owner, owner + 16).toString('hex'), '0102000000000005' + '20000000' + '20020000'); // S-1-5-32-544
  assert.equal(sd.subarray(group, group + 12).toString('hex'), '0101000000000005' + '12000000'); // S-1-5-18
  assert.equal(sd[dacl], 2, 'ACL revision');
  assert.equal(sd.readUInt16LE(dacl + 4), 2, 'ACE count');
  assert.equal(dacl + sd.readUInt16LE(dacl + 2), owner, 'DACL ends where the owner SID starts');
  assert.equal(group + 12, sd.length);
});

test('subkeys sort by uppercased name, as Windows compares them', () => {
  const names = ['b', '_x', 'A', 'a1', '1', 'Z', '{guid}', 'élan'];
  const sorted = [...names].sort(compareKeyNames);
  // Uppercase: '1' (0x31) < 'A' < 'A1' < 'B' < 'Z' < '_X' (0x5f) < '{' (0x7b) < 'É'.
  assert.deepEqual(sorted, ['1', 'A', 'a1', 'b', 'Z', '_x', '{guid}', 'élan']);
  assert.equal(compareKeyNames('abc', 'ABC'), 0);
  assert.ok(compareKeyNames('ab', 'abc') < 0);
});

test('lh hash: H = 37 * H + upcase(c), 32-bit', () => {
  assert.equal(lhHash('A'), 65);
  assert.equal(lhHash('a'), 65);
  assert.equal(lhHash('ab'), 37 * 65 + 66);
  let h = 0;
  for (const c of 'DESCRIPTION') h = (Math.imul(h, 37) + c.charCodeAt(0)) >>> 0;
  assert.equal(lhHash('Description'), h);
});

test('many keys: several bins, large cells, and lists split under an ri root', () => {
  const wide: RegKey = { name: 'Wide', children: Array.from({ length: 1234 }, (_, i) => ({ name: `k${i}` })) };
  const big = Buffer.alloc(10000, 7); // > one 4 KiB bin
  const tree: RegKey = {
    name: 'R',
    children: [
      wide,
      ...Array.from({ length: 20 }, (_, i) => ({
        name: `Group${i}`,
        values: [{ name: 'n', type: 'REG_DWORD' as const, data: i }],
        children: Array.from({ length: 10 }, (_, j) => ({ name: `Item${j}`, values: [{ name: 's', type: 'REG_SZ' as const, data: `v${i}.${j}` }] })),
      })),
      { name: 'Big', values: [{ name: 'blob', type: 'REG_BINARY', data: big }] },
    ],
  };
  const hive = buildHive(tree, { timestamp: fixed });
  const { root, bins } = readHive(hive);
  assert.ok(bins.length > 10, `bins: ${bins.length}`);
  assert.ok(
    bins.some((b) => b.size > 4096),
    'a bin larger than 4 KiB holds the 10000-byte cell',
  );
  assert.equal(count(root), 1 + 1 + 1234 + 20 + 200 + 1);
  assert.equal(find(root, 'Wide').children.length, 1234);
  assert.equal(find(root, 'Group7\\Item3').values.get('s')?.data.toString('utf16le'), 'v7.3\0');
  assert.deepEqual(find(root, 'Big').values.get('blob')?.data, big);
  assert.equal(find(root, 'Wide').list, 'ri', '1234 subkeys are split into lh leaves under an ri');
  assert.equal(find(root, 'Group7').list, 'lh');
});

test('same tree, same timestamp: same bytes', () => {
  const tree: RegKey = { name: 'R', children: [{ name: 'x', values: [{ name: 'v', type: 'REG_SZ', data: 'y' }] }] };
  assert.deepEqual(buildHive(tree, { timestamp: fixed }), buildHive(tree, { timestamp: fixed }));
});

test('refusals: big data, duplicates, bad names and values', () => {
  const ok = Buffer.alloc(MAX_SINGLE_CELL_DATA);
  buildHive({ name: 'R', values: [{ name: 'max', type: 'REG_BINARY', data: ok }] });
  assert.throws(() => buildHive({ name: 'R', values: [{ name: 'big', type: 'REG_BINARY', data: Buffer.alloc(MAX_SINGLE_CELL_DATA + 1) }] }), /16345 bytes .*big-data \(db\)/);
  assert.throws(() => buildHive({ name: 'R', children: [{ name: 'Same' }, { name: 'SAME' }] }), /duplicate subkey/);
  assert.throws(
    () =>
      buildHive({
        name: 'R',
        values: [
          { name: 'v', type: 'REG_SZ', data: 'a' },
          { name: 'V', type: 'REG_SZ', data: 'b' },
        ],
      }),
    /duplicate value/,
  );
  assert.throws(() => buildHive({ name: 'R', children: [{ name: 'a\\b' }] }), /backslash/);
  assert.throws(() => buildHive({ name: '' }), /non-empty/);
  assert.throws(() => encodeValueData({ name: 'd', type: 'REG_DWORD', data: -1 }), /out of range/);
  assert.throws(() => encodeValueData({ name: 'd', type: 'REG_DWORD', data: 2 ** 32 }), /out of range/);
  assert.throws(() => encodeValueData({ name: 'm', type: 'REG_MULTI_SZ', data: ['a', ''] }), /non-empty/);
  assert.throws(() => encodeValueData({ name: 'q', type: 'REG_QWORD', data: 2 ** 60 }), /safe integer/);
});
