// The entries of a tar stream as it passes by, read from its headers alone (ustar, pax, GNU long names and old
// GNU sparse headers), data skipped. Our own minimal reader rather than a parser library: the bytes must reach
// GNU tar unchanged and in step with our checks, chunk by chunk, synchronously; a parser that consumes and
// re-emits entries would be a second extractor in the way.

export type EntryKind = 'file' | 'hardlink' | 'symlink' | 'dir' | 'other';

export interface TarEntry {
  /** As the archive spells it (leading `./` and `/` removed, no trailing `/`). */
  path: string;
  kind: EntryKind;
  /** Symlink target or hard link target. */
  linkpath?: string;
}

const BLOCK = 512;
/** A pax header or GNU long name beyond this is no file name: refused rather than buffered. */
const MAX_META = 1024 * 1024;

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

/** File, hard link, symlink, char, block, dir, FIFO, contiguous file, GNU sparse, pax, pax global, GNU long name/link. */
const KNOWN_TYPES = new Set(['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'S', 'x', 'g', 'L', 'K']);
const NO_DATA = new Set(['1', '2', '3', '4', '5', '6']);

const KIND: Record<string, EntryKind> = { '0': 'file', '\0': 'file', '7': 'file', S: 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** Octal, or GNU's base-256 (high bit of the first byte set) for sizes of 8 GiB and more. */
function numeric(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`a tar header has a bad number field "${text}"`);
  return parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return numeric(block, 148, 8) === sum;
}

/** `path=...` and `linkpath=...` of a pax extended header (`LEN key=value\n` records). */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= space - at || at + length > data.length) throw new TarFormatError('a pax header record is malformed');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}

export function normalizeEntryPath(path: string): string {
  return path
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .join('/');
}

/**
 * Feed it the archive's bytes in order; each `push` returns the entries whose headers completed in that chunk.
 * Throws TarFormatError on a damaged header (GNU tar would stop there too).
 */
export class TarEntryReader {
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Bytes of entry data (padded to blocks) still to pass before the next header. */
  private skip = 0;
  /** Collecting a pax header, GNU long name or sparse extension block instead of skipping. */
  private meta: { type: string; need: number; chunks: Buffer[]; have: number } | undefined;
  private pending: { path?: string; linkpath?: string; size?: number } = {};
  private sparseData = 0;
  private zeroBlocks = 0;
  ended = false;

  push(chunk: Buffer): TarEntry[] {
    const entries: TarEntry[] = [];
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        if (this.meta) this.collect(chunk.subarray(at, at + n));
        this.skip -= n;
        at += n;
        if (this.skip === 0 && this.meta) this.finishMeta();
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - at);
      chunk.copy(this.header, this.headerFill, at, at + n);
      this.headerFill += n;
      at += n;
      if (this.headerFill < BLOCK) break;
      this.headerFill = 0;
      const entry = this.onHeader(this.header);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  private collect(bytes: Buffer) {
    const meta = this.meta!;
    if (meta.have >= meta.need) return; // the block padding
    const part = bytes.subarray(0, meta.need - meta.have);
    meta.chunks.push(Buffer.from(part));
    meta.have += part.length;
  }

  private finishMeta() {
    const meta = this.meta!;
    this.meta = undefined;
    const data = Buffer.concat(meta.chunks);
    if (meta.type === 'L') this.pending.path = cString(data, 0, data.length);
    else if (meta.type === 'K') this.pending.linkpath = cString(data, 0, data.length);
    else if (meta.type === 'x') {
      const records = paxRecords(data);
      // GNU tar takes a sparse file's real name from GNU.sparse.name over path.
      const path = records.get('GNU.sparse.name') ?? records.get('path');
      if (path !== undefined) this.pending.path = path;
      if (records.has('linkpath')) this.pending.linkpath = records.get('linkpath');
      if (records.has('size')) this.pending.size = Number(records.get('size'));
    } else if (meta.type === 'sparse') {
      if (data[504] !== 0) this.startMeta('sparse', BLOCK, BLOCK);
      else this.skip = this.sparseData;
    }
  }

  private startMeta(type: string, need: number, padded: number) {
    this.meta = { type, need, chunks: [], have: 0 };
    this.skip = padded;
  }

  private onHeader(block: Buffer): TarEntry | undefined {
    if (block.every((b) => b === 0)) {
      // Two zero blocks end the archive; GNU tar stops reading there, so do we.
      if (++this.zeroBlocks >= 2) this.ended = true;
      return undefined;
    }
    this.zeroBlocks = 0;
    if (!checksumOk(block)) throw new TarFormatError('a tar header has a bad checksum: the layer is not a tar archive or it is damaged');
    const type = String.fromCharCode(block[156]!);
    if (!KNOWN_TYPES.has(type)) throw new TarFormatError(`a tar entry of type "${type.replace(/[^ -~]/g, '?')}", which an OS image has no use for`);
    const size = this.pending.size ?? numeric(block, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L' || type === 'K') {
      if (size > MAX_META) throw new TarFormatError(`a tar ${type === 'x' ? 'pax' : 'long name'} header of ${size} bytes`);
      this.pending.size = undefined;
      this.startMeta(type, size, padded);
      return undefined;
    }
    if (type === 'g') {
      this.skip = padded;
      return undefined;
    }
    const magic = block.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cString(block, 345, 155) : '';
    const name = this.pending.path ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
    const linkpath = this.pending.linkpath ?? cString(block, 157, 100);
    this.pending = {};
    const kind = KIND[type] ?? 'other';
    // Entries without data: a size there would make our reading and GNU tar's part ways, so it is refused.
    if (NO_DATA.has(type) && size !== 0) throw new TarFormatError(`the tar entry ${name} (type ${type}) carries ${size} bytes of data`);
    if (type === 'S' && block[482] !== 0) {
      // An old GNU sparse file: more sparse map blocks follow its header, then its data.
      this.sparseData = padded;
      this.startMeta('sparse', BLOCK, BLOCK);
    } else {
      this.skip = padded;
    }
    return { path: normalizeEntryPath(name), kind, ...(kind === 'hardlink' || kind === 'symlink' ? { linkpath } : {}) };
  }
}
