// Why this exists: the BCD store is a registry hive, hivex cannot create an
// empty hive, and no hive template may be shipped, so we write the regf file
// ourselves from a tree of keys and values.
//
// Format reference: the public "Windows registry file format specification"
// (msuhanov/regf). What is written:
//   - base block (4096 bytes): "regf", sequence numbers equal (clean hive),
//     version 1.5 (hash leaves need minor > 4), XOR-32 checksum at offset 508;
//   - hive bins ("hbin"), each a multiple of 4096 bytes; cells are 8-aligned
//     with a negative size (allocated); the tail of every bin is one free cell;
//   - one "nk" per key (ASCII names stored compressed, others UTF-16LE);
//   - one shared "sk" (a self-relative security descriptor: owner
//     Administrators, group SYSTEM, DACL granting full control to SYSTEM and
//     Administrators, inherited by subkeys), flink/blink pointing to itself,
//     reference count = number of keys;
//   - subkeys in "lh" leaves sorted by the uppercased name (the order Windows
//     checks), split into several leaves under an "ri" root above
//     LEAF_MAX entries;
//   - a value list per key, "vk" cells, data inline when <= 4 bytes, else in
//     a data cell. Data above 16344 bytes would need "db" big-data records:
//     refused (BCD values are tiny).

export type RegStringType = 'REG_SZ' | 'REG_EXPAND_SZ' | 'REG_LINK';

export type RegValue =
  | { name: string; type: RegStringType; data: string }
  | { name: string; type: 'REG_MULTI_SZ'; data: readonly string[] }
  | { name: string; type: 'REG_DWORD'; data: number }
  | { name: string; type: 'REG_QWORD'; data: bigint | number }
  | { name: string; type: 'REG_BINARY' | 'REG_NONE'; data: Uint8Array }
  /** Any other type code, data given as raw bytes. */
  | { name: string; type: number; data: Uint8Array };

export interface RegKey {
  name: string;
  values?: readonly RegValue[];
  children?: readonly RegKey[];
}

export interface BuildHiveOptions {
  /** Last-written time of the hive and every key (default: now). */
  timestamp?: Date;
  /** Debug-only file name in the base block (UTF-16LE, at most 31 chars kept). */
  fileName?: string;
}

export const REG_TYPES = {
  REG_NONE: 0,
  REG_SZ: 1,
  REG_EXPAND_SZ: 2,
  REG_BINARY: 3,
  REG_DWORD: 4,
  REG_DWORD_BIG_ENDIAN: 5,
  REG_LINK: 6,
  REG_MULTI_SZ: 7,
  REG_RESOURCE_LIST: 8,
  REG_FULL_RESOURCE_DESCRIPTOR: 9,
  REG_RESOURCE_REQUIREMENTS_LIST: 10,
  REG_QWORD: 11,
} as const;

/** Largest value data stored in a single cell; larger data needs "db" records. */
export const MAX_SINGLE_CELL_DATA = 16344;
/** Subkeys per "lh" leaf before the list is split under an "ri" index root. */
export const LEAF_MAX = 500;

const BASE_BLOCK_SIZE = 4096;
const HBIN_HEADER_SIZE = 32;
const HBIN_UNIT = 4096;
const NIL = 0xffffffff;

const KEY_HIVE_ENTRY = 0x0004;
const KEY_NO_DELETE = 0x0008;
const KEY_COMP_NAME = 0x0020;
const VALUE_COMP_NAME = 0x0001;

// ---------------------------------------------------------------- names

/** Uppercase one UTF-16 code unit the way a registry comparison does (1:1 only). */
function upcaseUnit(unit: number): number {
  if (unit >= 0x61 && unit <= 0x7a) return unit - 0x20;
  if (unit < 0x80) return unit;
  const up = String.fromCharCode(unit).toUpperCase();
  return up.length === 1 ? up.charCodeAt(0) : unit;
}

function upcaseUnits(name: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < name.length; i++) out.push(upcaseUnit(name.charCodeAt(i)));
  return out;
}

/** Order of subkeys in a subkey list: by uppercased UTF-16 code units, shorter prefix first. */
export function compareKeyNames(a: string, b: string): number {
  const ua = upcaseUnits(a);
  const ub = upcaseUnits(b);
  const n = Math.min(ua.length, ub.length);
  for (let i = 0; i < n; i++) {
    const d = (ua[i] as number) - (ub[i] as number);
    if (d !== 0) return d;
  }
  return ua.length - ub.length;
}

/** The "lh" name hash: H = 37 * H + upcase(c) over UTF-16 code units, 32-bit. */
export function lhHash(name: string): number {
  let h = 0;
  for (const c of upcaseUnits(name)) h = (Math.imul(h, 37) + c) >>> 0;
  return h;
}

/** ASCII names are stored "compressed" (one byte per char); others as UTF-16LE. */
function encodeName(name: string): { bytes: Buffer; compressed: boolean } {
  if (/^[\x00-\x7f]*$/.test(name)) return { bytes: Buffer.from(name, 'latin1'), compressed: true };
  return { bytes: Buffer.from(name, 'utf16le'), compressed: false };
}

// ---------------------------------------------------------------- values

function utf16z(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf16le');
}

/** Type code and raw bytes of a value, as stored in the hive. */
export function encodeValueData(value: RegValue): { type: number; data: Buffer } {
  const where = `value ${JSON.stringify(value.name)}`;
  if (typeof value.type === 'number') {
    if (!Number.isInteger(value.type) || value.type < 0 || value.type > 0xffffffff) {
      throw new Error(`${where}: bad type code ${value.type}`);
    }
    return { type: value.type, data: Buffer.from(value.data as Uint8Array) };
  }
  switch (value.type) {
    case 'REG_SZ':
    case 'REG_EXPAND_SZ':
    case 'REG_LINK': {
      const s = value.data as string;
      if (typeof s !== 'string') throw new Error(`${where}: ${value.type} needs a string`);
      // REG_LINK is stored without a terminator.
      return { type: REG_TYPES[value.type], data: value.type === 'REG_LINK' ? Buffer.from(s, 'utf16le') : utf16z(s) };
    }
    case 'REG_MULTI_SZ': {
      const list = value.data as readonly string[];
      if (!Array.isArray(list)) throw new Error(`${where}: REG_MULTI_SZ needs an array of strings`);
      for (const s of list) {
        if (typeof s !== 'string' || s.length === 0 || s.includes('\0')) {
          throw new Error(`${where}: REG_MULTI_SZ items must be non-empty strings without NUL`);
        }
      }
      return { type: REG_TYPES.REG_MULTI_SZ, data: Buffer.concat([...list.map(utf16z), Buffer.alloc(2)]) };
    }
    case 'REG_DWORD': {
      const n = value.data as number;
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${where}: REG_DWORD out of range: ${n}`);
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n, 0);
      return { type: REG_TYPES.REG_DWORD, data: b };
    }
    case 'REG_QWORD': {
      const raw = value.data as bigint | number;
      if (typeof raw === 'number' && !Number.isSafeInteger(raw)) throw new Error(`${where}: REG_QWORD not a safe integer: ${raw}`);
      const n = BigInt(raw);
      if (n < 0n || n > 0xffffffffffffffffn) throw new Error(`${where}: REG_QWORD out of range: ${n}`);
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(n, 0);
      return { type: REG_TYPES.REG_QWORD, data: b };
    }
    case 'REG_BINARY':
    case 'REG_NONE': {
      const d = value.data as Uint8Array;
      if (!(d instanceof Uint8Array)) throw new Error(`${where}: ${value.type} needs bytes`);
      return { type: REG_TYPES[value.type], data: Buffer.from(d) };
    }
    default:
      throw new Error(`${where}: unknown type ${String((value as { type: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------- security

function sid(authority: number, ...subAuthorities: number[]): Buffer {
  const b = Buffer.alloc(8 + 4 * subAuthorities.length);
  b[0] = 1; // revision
  b[1] = subAuthorities.length;
  b.writeUIntBE(authority, 2, 6);
  subAuthorities.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
  return b;
}

const SID_SYSTEM = sid(5, 18); // S-1-5-18
const SID_ADMINS = sid(5, 32, 544); // S-1-5-32-544
const KEY_ALL_ACCESS = 0x000f003f;
const CONTAINER_INHERIT_ACE = 0x02;

function accessAllowedAce(mask: number, who: Buffer): Buffer {
  const b = Buffer.alloc(8 + who.length);
  b[0] = 0; // ACCESS_ALLOWED_ACE_TYPE
  b[1] = CONTAINER_INHERIT_ACE;
  b.writeUInt16LE(b.length, 2);
  b.writeUInt32LE(mask, 4);
  who.copy(b, 8);
  return b;
}

/** Self-relative SD: owner Administrators, group SYSTEM, DACL: SYSTEM and Administrators full control. */
export function defaultSecurityDescriptor(): Buffer {
  const aces = [accessAllowedAce(KEY_ALL_ACCESS, SID_SYSTEM), accessAllowedAce(KEY_ALL_ACCESS, SID_ADMINS)];
  const aclSize = 8 + aces.reduce((n, a) => n + a.length, 0);
  const acl = Buffer.alloc(8);
  acl[0] = 2; // ACL_REVISION
  acl.writeUInt16LE(aclSize, 2);
  acl.writeUInt16LE(aces.length, 4);
  const dacl = Buffer.concat([acl, ...aces]);

  const header = Buffer.alloc(20);
  header[0] = 1; // revision
  header.writeUInt16LE(0x8000 /* SE_SELF_RELATIVE */ | 0x0004 /* SE_DACL_PRESENT */, 2);
  const daclOff = 20;
  const ownerOff = daclOff + dacl.length;
  const groupOff = ownerOff + SID_ADMINS.length;
  header.writeUInt32LE(ownerOff, 4);
  header.writeUInt32LE(groupOff, 8);
  header.writeUInt32LE(0, 12); // no SACL
  header.writeUInt32LE(daclOff, 16);
  return Buffer.concat([header, dacl, SID_ADMINS, SID_SYSTEM]);
}

// ---------------------------------------------------------------- layout

interface ValueLayout {
  name: Buffer;
  compName: boolean;
  nameChars: number;
  type: number;
  data: Buffer;
  vkOff: number;
  dataOff: number; // NIL when inline
}

interface KeyLayout {
  text: string;
  name: Buffer;
  compName: boolean;
  nameChars: number;
  isRoot: boolean;
  parent: KeyLayout | null;
  children: KeyLayout[]; // sorted
  values: ValueLayout[];
  nkOff: number;
  valueListOff: number;
  leafOffs: number[]; // one per lh leaf
  subkeyListOff: number; // the single leaf, or the ri
}

/** Hands out cell offsets (relative to the start of the hive bins data) inside 4 KiB-multiple bins. */
class CellAllocator {
  /** `end`: where the last allocated cell of the bin ends; the rest of the bin is free. */
  readonly bins: { offset: number; size: number; end: number }[] = [];
  readonly cells: { offset: number; size: number }[] = [];
  private binEnd = 0;
  private next = 0;

  alloc(dataLength: number): number {
    const size = Math.ceil((4 + dataLength) / 8) * 8;
    if (this.bins.length === 0 || this.next + size > this.binEnd) {
      const binSize = Math.ceil((HBIN_HEADER_SIZE + size) / HBIN_UNIT) * HBIN_UNIT;
      const offset = this.binEnd;
      this.bins.push({ offset, size: binSize, end: offset + HBIN_HEADER_SIZE });
      this.binEnd = offset + binSize;
      this.next = offset + HBIN_HEADER_SIZE;
    }
    const off = this.next;
    this.next += size;
    (this.bins[this.bins.length - 1] as { end: number }).end = this.next;
    this.cells.push({ offset: off, size });
    return off;
  }

  get totalSize(): number {
    return this.binEnd;
  }
}

function validateKeyName(name: string, path: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${path}: key name must be a non-empty string`);
  if (name.includes('\\')) throw new Error(`${path}: key name must not contain a backslash`);
  if (name.length > 255) throw new Error(`${path}: key name longer than 255 characters`);
}

function layoutTree(root: RegKey): KeyLayout {
  const build = (key: RegKey, parent: KeyLayout | null, path: string): KeyLayout => {
    validateKeyName(key.name, path);
    const { bytes, compressed } = encodeName(key.name);
    const node: KeyLayout = {
      text: key.name,
      name: bytes,
      compName: compressed,
      nameChars: key.name.length,
      isRoot: parent === null,
      parent,
      children: [],
      values: [],
      nkOff: NIL,
      valueListOff: NIL,
      leafOffs: [],
      subkeyListOff: NIL,
    };
    const seenValues = new Set<string>();
    for (const v of key.values ?? []) {
      if (typeof v.name !== 'string') throw new Error(`${path}: value name must be a string`);
      if (v.name.length > 16383) throw new Error(`${path}: value name longer than 16383 characters`);
      const folded = upcaseUnits(v.name).join(',');
      if (seenValues.has(folded)) throw new Error(`${path}: duplicate value name ${JSON.stringify(v.name)}`);
      seenValues.add(folded);
      const { type, data } = encodeValueData(v);
      if (data.length > MAX_SINGLE_CELL_DATA) {
        throw new Error(
          `${path}: value ${JSON.stringify(v.name)} has ${data.length} bytes of data; ` +
            `more than ${MAX_SINGLE_CELL_DATA} needs big-data (db) records, which this writer does not produce`,
        );
      }
      const n = encodeName(v.name);
      node.values.push({ name: n.bytes, compName: n.compressed, nameChars: v.name.length, type, data, vkOff: NIL, dataOff: NIL });
    }
    const kids = [...(key.children ?? [])].sort((a, b) => compareKeyNames(a.name, b.name));
    for (let i = 1; i < kids.length; i++) {
      if (compareKeyNames((kids[i - 1] as RegKey).name, (kids[i] as RegKey).name) === 0) {
        throw new Error(`${path}: duplicate subkey name ${JSON.stringify((kids[i] as RegKey).name)} (names are case-insensitive)`);
      }
    }
    node.children = kids.map((k) => build(k, node, `${path}\\${k.name}`));
    return node;
  };
  return build(root, null, root.name || '(root)');
}

function countKeys(node: KeyLayout): number {
  return 1 + node.children.reduce((n, c) => n + countKeys(c), 0);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------- writer

function filetime(date: Date): bigint {
  return (BigInt(date.getTime()) + 11644473600000n) * 10000n;
}

/** XOR-32 of the first 508 bytes of the base block, with 0 -> 1 and 0xffffffff -> 0xfffffffe. */
export function baseBlockChecksum(base: Buffer): number {
  let c = 0;
  for (let i = 0; i < 508; i += 4) c = (c ^ base.readUInt32LE(i)) >>> 0;
  if (c === 0xffffffff) return 0xfffffffe;
  if (c === 0) return 1;
  return c;
}

/** Build a complete hive file (base block + hive bins) from a key tree. */
export function buildHive(root: RegKey, options: BuildHiveOptions = {}): Buffer {
  const when = filetime(options.timestamp ?? new Date());
  const tree = layoutTree(root);
  const sd = defaultSecurityDescriptor();
  const heap = new CellAllocator();

  // Pass 1: give every cell its offset (depth first, a key's own cells together).
  let skOff = NIL;
  const place = (node: KeyLayout): void => {
    node.nkOff = heap.alloc(76 + node.name.length);
    if (node.isRoot) skOff = heap.alloc(20 + sd.length);
    for (const v of node.values) {
      v.vkOff = heap.alloc(20 + v.name.length);
      if (v.data.length > 4) v.dataOff = heap.alloc(v.data.length);
    }
    if (node.values.length > 0) node.valueListOff = heap.alloc(4 * node.values.length);
    if (node.children.length > 0) {
      const leaves = chunk(node.children, LEAF_MAX);
      node.leafOffs = leaves.map((leaf) => heap.alloc(4 + 8 * leaf.length));
      node.subkeyListOff = leaves.length === 1 ? (node.leafOffs[0] as number) : heap.alloc(4 + 4 * leaves.length);
    }
    for (const c of node.children) place(c);
  };
  place(tree);

  // Pass 2: write bins, cells, and the base block.
  const bins = Buffer.alloc(heap.totalSize);
  heap.bins.forEach((bin, i) => {
    bins.write('hbin', bin.offset, 'latin1');
    bins.writeUInt32LE(bin.offset, bin.offset + 4);
    bins.writeUInt32LE(bin.size, bin.offset + 8);
    if (i === 0) bins.writeBigUInt64LE(when, bin.offset + 20);
  });
  // Allocated cells: negative size. Everything after the last cell of a bin: one free cell.
  for (const cell of heap.cells) bins.writeInt32LE(-cell.size, cell.offset);
  for (const bin of heap.bins) {
    const free = bin.offset + bin.size - bin.end;
    if (free > 0) bins.writeInt32LE(free, bin.end);
  }
  const cellData = (off: number) => off + 4; // where a cell's data starts

  // The one security cell.
  {
    const p = cellData(skOff);
    bins.write('sk', p, 'latin1');
    bins.writeUInt32LE(skOff, p + 4); // flink: itself (a one-entry circular list)
    bins.writeUInt32LE(skOff, p + 8); // blink
    bins.writeUInt32LE(countKeys(tree), p + 12); // reference count
    bins.writeUInt32LE(sd.length, p + 16);
    sd.copy(bins, p + 20);
  }

  const write = (node: KeyLayout): void => {
    const p = cellData(node.nkOff);
    let flags = node.compName ? KEY_COMP_NAME : 0;
    if (node.isRoot) flags |= KEY_HIVE_ENTRY | KEY_NO_DELETE;
    bins.write('nk', p, 'latin1');
    bins.writeUInt16LE(flags, p + 2);
    bins.writeBigUInt64LE(when, p + 4);
    bins.writeUInt32LE(0, p + 12); // access bits
    bins.writeUInt32LE(node.parent ? node.parent.nkOff : NIL, p + 16);
    bins.writeUInt32LE(node.children.length, p + 20);
    bins.writeUInt32LE(0, p + 24); // volatile subkeys
    bins.writeUInt32LE(node.subkeyListOff, p + 28);
    bins.writeUInt32LE(NIL, p + 32); // volatile subkey list
    bins.writeUInt32LE(node.values.length, p + 36);
    bins.writeUInt32LE(node.valueListOff, p + 40);
    bins.writeUInt32LE(skOff, p + 44);
    bins.writeUInt32LE(NIL, p + 48); // class name
    bins.writeUInt32LE(
      node.children.reduce((m, c) => Math.max(m, c.nameChars * 2), 0),
      p + 52,
    );
    bins.writeUInt32LE(0, p + 56); // largest subkey class name
    bins.writeUInt32LE(
      node.values.reduce((m, v) => Math.max(m, v.nameChars * 2), 0),
      p + 60,
    );
    bins.writeUInt32LE(
      node.values.reduce((m, v) => Math.max(m, v.data.length), 0),
      p + 64,
    );
    bins.writeUInt32LE(0, p + 68); // WorkVar
    bins.writeUInt16LE(node.name.length, p + 72);
    bins.writeUInt16LE(0, p + 74); // class name length
    node.name.copy(bins, p + 76);

    for (const v of node.values) {
      const q = cellData(v.vkOff);
      bins.write('vk', q, 'latin1');
      bins.writeUInt16LE(v.name.length, q + 2);
      if (v.data.length <= 4) {
        bins.writeUInt32LE((v.data.length | 0x80000000) >>> 0, q + 4); // data lives in the offset field
        v.data.copy(bins, q + 8);
      } else {
        bins.writeUInt32LE(v.data.length, q + 4);
        bins.writeUInt32LE(v.dataOff, q + 8);
        v.data.copy(bins, cellData(v.dataOff));
      }
      bins.writeUInt32LE(v.type, q + 12);
      bins.writeUInt16LE(v.compName ? VALUE_COMP_NAME : 0, q + 16);
      v.name.copy(bins, q + 20);
    }
    node.values.forEach((v, i) => bins.writeUInt32LE(v.vkOff, cellData(node.valueListOff) + 4 * i));

    if (node.children.length > 0) {
      const leaves = chunk(node.children, LEAF_MAX);
      leaves.forEach((leaf, li) => {
        const q = cellData(node.leafOffs[li] as number);
        bins.write('lh', q, 'latin1');
        bins.writeUInt16LE(leaf.length, q + 2);
        leaf.forEach((c, i) => {
          bins.writeUInt32LE(c.nkOff, q + 4 + 8 * i);
          bins.writeUInt32LE(lhHash(c.text), q + 8 + 8 * i);
        });
      });
      if (leaves.length > 1) {
        const q = cellData(node.subkeyListOff);
        bins.write('ri', q, 'latin1');
        bins.writeUInt16LE(leaves.length, q + 2);
        node.leafOffs.forEach((off, i) => bins.writeUInt32LE(off, q + 4 + 4 * i));
      }
    }
    for (const c of node.children) write(c);
  };
  write(tree);

  const base = Buffer.alloc(BASE_BLOCK_SIZE);
  base.write('regf', 0, 'latin1');
  base.writeUInt32LE(1, 4); // primary sequence number
  base.writeUInt32LE(1, 8); // secondary sequence number (equal: the hive is clean)
  base.writeBigUInt64LE(when, 12);
  base.writeUInt32LE(1, 20); // major version
  base.writeUInt32LE(5, 24); // minor version (5: hash leaves allowed)
  base.writeUInt32LE(0, 28); // primary file
  base.writeUInt32LE(1, 32); // direct memory load
  base.writeUInt32LE(tree.nkOff, 36);
  base.writeUInt32LE(heap.totalSize, 40);
  base.writeUInt32LE(1, 44); // clustering factor
  if (options.fileName) Buffer.from(options.fileName.slice(0, 31), 'utf16le').copy(base, 48);
  base.writeUInt32LE(baseBlockChecksum(base), 508);

  return Buffer.concat([base, bins]);
}
