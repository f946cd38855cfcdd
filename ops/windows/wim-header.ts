// List the images of a WIM from its 208-byte header and its XML metadata,
// reading only those ranges (so HTTP Range requests can list a remote WIM
// without downloading it).
//
// Layout (wimlib's include/wimlib/header.h, little-endian):
//   0x00 magic "MSWIM\0\0\0" (or "WLPWM\0\0\0" for wimlib's pipable WIMs)
//   0x08 u32 header size (208)   0x0c u32 version   0x10 u32 flags
//   0x14 u32 chunk size          0x18 16-byte GUID
//   0x28 u16 part number         0x2a u16 total parts   0x2c u32 image count
//   0x30 blob (lookup) table resource header   0x48 XML data resource header
//   0x60 boot metadata resource header         0x78 u32 boot index
//   0x7c integrity table resource header       0x94 60 unused bytes
// A resource header is 24 bytes: 7-byte size in the WIM, 1 flag byte, u64
// offset, u64 original size. The XML data is stored uncompressed: UTF-16LE
// with a BOM.
//
// Pipable WIMs (wimlib write.c, write_pipable_wim): the header at the start
// has all-zero blob table and XML entries, because it is written before
// they exist. The complete header is written again as the LAST 208 bytes of
// the file. An extra copy of the XML (without the WIM-wide TOTALBYTES)
// follows the first header, prefixed by a 40-byte blob header (u64 magic
// 0x2b9b9ba2443db9d8, u64 size, 20-byte SHA-1, u32 flags). With the file
// size known we read the trailing header; without it, that front copy.
// Checked against files written by wimlib 1.13.5 (wimcapture/wimexport --pipable).

export type ReadRange = (start: number, endInclusive: number) => Promise<Buffer>;

export const WIM_HEADER_SIZE = 208;
const WIM_MAGIC = Buffer.from('MSWIM\0\0\0', 'latin1');
const PWM_MAGIC = Buffer.from('WLPWM\0\0\0', 'latin1');
const PWM_BLOB_MAGIC = 0x2b9b9ba2443db9d8n;
const PWM_BLOB_HDR_SIZE = 40;
/** XML data larger than this is refused rather than fetched (real install.wim XML is tens of KiB). */
export const MAX_XML_BYTES = 16 * 1024 * 1024;

export const WIM_HDR_FLAGS = {
  RESERVED: 0x00000001,
  COMPRESSION: 0x00000002,
  READONLY: 0x00000004,
  SPANNED: 0x00000008,
  RESOURCE_ONLY: 0x00000010,
  METADATA_ONLY: 0x00000020,
  WRITE_IN_PROGRESS: 0x00000040,
  RP_FIX: 0x00000080,
  COMPRESS_RESERVED: 0x00010000,
  COMPRESS_XPRESS: 0x00020000,
  COMPRESS_LZX: 0x00040000,
  COMPRESS_LZMS: 0x00080000,
  COMPRESS_XPRESS_2: 0x00200000,
} as const;

export const WIM_RESHDR_FLAGS = { FREE: 0x01, METADATA: 0x02, COMPRESSED: 0x04, SPANNED: 0x08, SOLID: 0x10 } as const;

export type WimCompression = 'none' | 'xpress' | 'lzx' | 'lzms' | 'unknown';

export interface WimResourceHeader {
  sizeInWim: number;
  flags: number;
  offset: number;
  originalSize: number;
}

export interface WimHeader {
  pipable: boolean;
  headerSize: number;
  version: number;
  flags: number;
  compression: WimCompression;
  chunkSize: number;
  guid: string; // 32 hex digits, as wiminfo prints it
  partNumber: number;
  totalParts: number;
  imageCount: number;
  blobTable: WimResourceHeader;
  xmlData: WimResourceHeader;
  bootMetadata: WimResourceHeader;
  bootIndex: number;
  integrityTable: WimResourceHeader;
}

export interface WimImage {
  index: number;
  name?: string;
  description?: string;
  displayName?: string;
  displayDescription?: string;
  /** <FLAGS>, e.g. "ServerStandard". */
  flags?: string;
  editionId?: string;
  productName?: string;
  productType?: string;
  installationType?: string;
  /** <ARCH> code: 0 x86, 5 ARM, 6 IA64, 9 x86_64, 12 ARM64. */
  archCode?: number;
  arch?: string;
  systemRoot?: string;
  languages?: string[];
  defaultLanguage?: string;
  version?: { major?: number; minor?: number; build?: number; spBuild?: number };
  totalBytes?: number;
  hardLinkBytes?: number;
  fileCount?: number;
  dirCount?: number;
}

export interface WimXmlInfo {
  /** WIM-wide <TOTALBYTES> (the WIM's size up to the XML; absent in a pipable WIM's front copy). */
  totalBytes?: number;
  images: WimImage[];
}

export interface WimInfo extends WimXmlInfo {
  imageCount: number;
  pipable: boolean;
  compression: WimCompression;
  header: WimHeader;
  /** Where the XML came from. */
  xmlSource: 'header' | 'pipable-trailer' | 'pipable-front-copy';
  /** Bytes requested through readRange, to show how little was read. */
  bytesRead: number;
}

function readU56(buf: Buffer, off: number): number {
  return buf.readUIntLE(off, 6) + (buf[off + 6] as number) * 2 ** 48;
}

function parseReshdr(buf: Buffer, off: number): WimResourceHeader {
  return {
    sizeInWim: readU56(buf, off),
    flags: buf[off + 7] as number,
    offset: Number(buf.readBigUInt64LE(off + 8)),
    originalSize: Number(buf.readBigUInt64LE(off + 16)),
  };
}

function compressionOf(flags: number): WimCompression {
  const F = WIM_HDR_FLAGS;
  if (!(flags & F.COMPRESSION)) return 'none';
  if (flags & F.COMPRESS_LZX) return 'lzx';
  if (flags & F.COMPRESS_LZMS) return 'lzms';
  if (flags & (F.COMPRESS_XPRESS | F.COMPRESS_XPRESS_2)) return 'xpress';
  return 'unknown';
}

/** Parse the 208-byte WIM header. Throws on a wrong magic or header size. */
export function parseWimHeader(buf: Buffer): WimHeader {
  if (buf.length < WIM_HEADER_SIZE) throw new Error(`WIM header: need ${WIM_HEADER_SIZE} bytes, got ${buf.length}`);
  const magic = buf.subarray(0, 8);
  const pipable = magic.equals(PWM_MAGIC);
  if (!pipable && !magic.equals(WIM_MAGIC)) {
    throw new Error(`not a WIM file: magic ${JSON.stringify(magic.toString('latin1'))} (expected "MSWIM" or "WLPWM")`);
  }
  const headerSize = buf.readUInt32LE(8);
  if (headerSize !== WIM_HEADER_SIZE) throw new Error(`WIM header: unexpected header size ${headerSize}`);
  const flags = buf.readUInt32LE(0x10);
  return {
    pipable,
    headerSize,
    version: buf.readUInt32LE(0x0c),
    flags,
    compression: compressionOf(flags),
    chunkSize: buf.readUInt32LE(0x14),
    guid: buf.subarray(0x18, 0x28).toString('hex'),
    partNumber: buf.readUInt16LE(0x28),
    totalParts: buf.readUInt16LE(0x2a),
    imageCount: buf.readUInt32LE(0x2c),
    blobTable: parseReshdr(buf, 0x30),
    xmlData: parseReshdr(buf, 0x48),
    bootMetadata: parseReshdr(buf, 0x60),
    bootIndex: buf.readUInt32LE(0x78),
    integrityTable: parseReshdr(buf, 0x7c),
  };
}

/** UTF-16LE bytes (BOM optional) -> string without the BOM. */
export function decodeWimXml(bytes: Buffer): string {
  if (bytes.length % 2 !== 0) throw new Error(`WIM XML: odd length ${bytes.length} for UTF-16LE`);
  let s = bytes.toString('utf16le');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  return s;
}

/**
 * Read a WIM's header and XML through `readRange` and return its images.
 * `size` (the file size, e.g. from Content-Length) lets a pipable WIM be read
 * from its trailing header; without it the copy after the first header is used.
 */
export async function readWimInfo(readRange: ReadRange, options: { size?: number } = {}): Promise<WimInfo> {
  let bytesRead = 0;
  const read = async (start: number, length: number): Promise<Buffer> => {
    if (length <= 0) return Buffer.alloc(0);
    const b = await readRange(start, start + length - 1);
    if (b.length !== length) throw new Error(`WIM: asked for ${length} bytes at ${start}, got ${b.length}`);
    bytesRead += b.length;
    return b;
  };
  const readXml = async (offset: number, length: number, what: string): Promise<string> => {
    if (length === 0) throw new Error(`WIM: ${what} has no XML data`);
    if (length > MAX_XML_BYTES) throw new Error(`WIM: ${what} XML data is ${length} bytes, more than the ${MAX_XML_BYTES} accepted`);
    if (options.size !== undefined && offset + length > options.size) {
      throw new Error(`WIM: ${what} XML data (${length} bytes at ${offset}) runs past the end of the file (${options.size} bytes)`);
    }
    return decodeWimXml(await read(offset, length));
  };
  const checkXmlResource = (r: WimResourceHeader, what: string) => {
    if (r.flags & WIM_RESHDR_FLAGS.COMPRESSED) throw new Error(`WIM: ${what} XML data is compressed, which is not supported`);
  };

  const first = parseWimHeader(await read(0, WIM_HEADER_SIZE));
  let header = first;
  let xml: string;
  let xmlSource: WimInfo['xmlSource'];

  if (!first.pipable) {
    checkXmlResource(first.xmlData, 'the');
    xml = await readXml(first.xmlData.offset, first.xmlData.originalSize, 'the');
    xmlSource = 'header';
  } else if (options.size !== undefined) {
    if (options.size < 2 * WIM_HEADER_SIZE) throw new Error(`WIM: pipable WIM of ${options.size} bytes is too small`);
    const notTrailer = 'WIM: the last 208 bytes of this pipable WIM are not its header (wrong size, truncated, or still being written?)';
    let last: WimHeader;
    try {
      last = parseWimHeader(await read(options.size - WIM_HEADER_SIZE, WIM_HEADER_SIZE));
    } catch (err) {
      throw new Error(`${notTrailer}: ${(err as Error).message}`, { cause: err });
    }
    if (!last.pipable || last.guid !== first.guid) throw new Error(notTrailer);
    checkXmlResource(last.xmlData, 'the pipable WIM trailer');
    header = last;
    xml = await readXml(last.xmlData.offset, last.xmlData.originalSize, 'the pipable WIM trailer');
    xmlSource = 'pipable-trailer';
  } else {
    const blob = await read(WIM_HEADER_SIZE, PWM_BLOB_HDR_SIZE);
    if (blob.readBigUInt64LE(0) !== PWM_BLOB_MAGIC) throw new Error('WIM: no XML copy after the header of this pipable WIM');
    const length = Number(blob.readBigUInt64LE(8));
    const flags = blob.readUInt32LE(36);
    if (flags & WIM_RESHDR_FLAGS.COMPRESSED) throw new Error('WIM: the pipable XML copy is compressed, which is not supported');
    xml = await readXml(WIM_HEADER_SIZE + PWM_BLOB_HDR_SIZE, length, 'the pipable front copy');
    xmlSource = 'pipable-front-copy';
  }

  const parsed = parseWimXml(xml);
  if (parsed.images.length !== header.imageCount) {
    throw new Error(`WIM: header says ${header.imageCount} images, XML describes ${parsed.images.length}`);
  }
  return {
    ...parsed,
    imageCount: header.imageCount,
    pipable: header.pipable,
    compression: header.compression,
    header,
    xmlSource,
    bytesRead,
  };
}

// ---------------------------------------------------------------- XML
// No XML library is installed and the schema is small and fixed, so this is
// a minimal extractor: element text by tag name within a known parent, the
// five predefined entities and numeric character references decoded.

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const k = e.toLowerCase();
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith('#')) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[k] as string;
  });
}

interface XmlElement {
  attrs: string;
  inner: string;
  start: number;
  end: number; // index just past the element
}

/** Each <tag ...>...</tag> (or <tag .../>) in `xml`, in order; the schema never nests a tag in itself. */
function elements(xml: string, tag: string): XmlElement[] {
  const open = new RegExp(`<${tag}(\\s[^>]*?)?(/?)>`, 'g');
  const close = `</${tag}>`;
  const out: XmlElement[] = [];
  let m: RegExpExecArray | null;
  while ((m = open.exec(xml)) !== null) {
    const attrs = m[1] ?? '';
    const afterOpen = m.index + m[0].length;
    if (m[2] === '/') {
      out.push({ attrs, inner: '', start: m.index, end: afterOpen });
      continue;
    }
    const closeAt = xml.indexOf(close, afterOpen);
    if (closeAt < 0) throw new Error(`WIM XML: <${tag}> is not closed`);
    const end = closeAt + close.length;
    out.push({ attrs, inner: xml.slice(afterOpen, closeAt), start: m.index, end });
    open.lastIndex = end;
  }
  return out;
}

/** `xml` without the elements named in `tags`, so a parent's own children can be read. */
function without(xml: string, tags: string[]): string {
  let s = xml;
  for (const t of tags) {
    let out = '';
    let pos = 0;
    for (const e of elements(s, t)) {
      out += s.slice(pos, e.start);
      pos = e.end;
    }
    s = out + s.slice(pos);
  }
  return s;
}

function text(xml: string, tag: string): string | undefined {
  const e = elements(xml, tag)[0];
  if (!e) return undefined;
  if (/<[A-Za-z]/.test(e.inner)) return undefined; // not a text element
  return decodeEntities(e.inner).trim();
}

function num(xml: string, tag: string): number | undefined {
  const t = text(xml, tag);
  if (t === undefined || t === '') return undefined;
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : Number(t);
  return Number.isFinite(n) ? n : undefined;
}

const ARCH_NAMES: Record<number, string> = { 0: 'x86', 5: 'ARM', 6: 'IA64', 9: 'x86_64', 12: 'ARM64' };

/** Parse the WIM XML document (<WIM><IMAGE INDEX="n">...</IMAGE>...<TOTALBYTES/></WIM>). */
export function parseWimXml(xml: string): WimXmlInfo {
  const doc = elements(xml, 'WIM')[0];
  if (!doc) throw new Error('WIM XML: no <WIM> element');
  const images: WimImage[] = [];
  for (const img of elements(doc.inner, 'IMAGE')) {
    const idx = /\bINDEX\s*=\s*"(\d+)"/i.exec(img.attrs);
    if (!idx) throw new Error('WIM XML: <IMAGE> without an INDEX attribute');
    const own = without(img.inner, ['WINDOWS', 'CREATIONTIME', 'LASTMODIFICATIONTIME']);
    const win = elements(img.inner, 'WINDOWS')[0]?.inner;
    const image: WimImage = { index: Number(idx[1]) };
    const set = <K extends keyof WimImage>(k: K, v: WimImage[K] | undefined) => {
      if (v !== undefined && v !== '') image[k] = v;
    };
    set('name', text(own, 'NAME'));
    set('description', text(own, 'DESCRIPTION'));
    set('displayName', text(own, 'DISPLAYNAME'));
    set('displayDescription', text(own, 'DISPLAYDESCRIPTION'));
    set('flags', text(own, 'FLAGS'));
    set('totalBytes', num(own, 'TOTALBYTES'));
    set('hardLinkBytes', num(own, 'HARDLINKBYTES'));
    set('fileCount', num(own, 'FILECOUNT'));
    set('dirCount', num(own, 'DIRCOUNT'));
    if (win !== undefined) {
      const winOwn = without(win, ['LANGUAGES', 'VERSION']);
      set('editionId', text(winOwn, 'EDITIONID'));
      set('productName', text(winOwn, 'PRODUCTNAME'));
      set('productType', text(winOwn, 'PRODUCTTYPE'));
      set('installationType', text(winOwn, 'INSTALLATIONTYPE'));
      set('systemRoot', text(winOwn, 'SYSTEMROOT'));
      const arch = num(winOwn, 'ARCH');
      if (arch !== undefined) {
        image.archCode = arch;
        image.arch = ARCH_NAMES[arch] ?? `unknown (${arch})`;
      }
      const langs = elements(win, 'LANGUAGES')[0]?.inner;
      if (langs !== undefined) {
        const list = elements(langs, 'LANGUAGE')
          .map((l) => decodeEntities(l.inner).trim())
          .filter((l) => l !== '');
        if (list.length > 0) image.languages = list;
        set('defaultLanguage', text(without(langs, ['LANGUAGE']), 'DEFAULT'));
      }
      const ver = elements(win, 'VERSION')[0]?.inner;
      if (ver !== undefined) {
        const v = { major: num(ver, 'MAJOR'), minor: num(ver, 'MINOR'), build: num(ver, 'BUILD'), spBuild: num(ver, 'SPBUILD') };
        image.version = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
      }
    }
    images.push(image);
  }
  images.sort((a, b) => a.index - b.index);
  images.forEach((img, i) => {
    if (img.index !== i + 1) throw new Error(`WIM XML: image indexes are not 1..${images.length} (found ${img.index} at position ${i + 1})`);
  });
  const info: WimXmlInfo = { images };
  const total = num(without(doc.inner, ['IMAGE']), 'TOTALBYTES');
  if (total !== undefined) info.totalBytes = total;
  return info;
}
