// GUID text <-> the 16-byte "mixed-endian" form Windows stores on disk (GPT
// entries, BCD device elements, WIM headers): the first three groups are
// little-endian (4, 2 and 2 bytes), the last two groups are stored as written.
//   "00112233-4455-6677-8899-aabbccddeeff" <-> 33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff

const GUID_RE = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

/** True for "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", with or without braces, any case. */
export function isGuid(text: string): boolean {
  const m = GUID_RE.exec(text.trim());
  // Braces must come as a pair.
  return m !== null && text.trim().startsWith('{') === text.trim().endsWith('}');
}

/** Lowercase, no braces. Throws on anything that is not a GUID. */
export function normalizeGuid(text: string): string {
  const t = text.trim();
  if (!isGuid(t)) throw new Error(`not a GUID: ${JSON.stringify(text)}`);
  return t.replace(/[{}]/g, '').toLowerCase();
}

/** Lowercase with braces, as BCD object keys and references are written: "{9dea862c-...}". */
export function bracedGuid(text: string): string {
  return `{${normalizeGuid(text)}}`;
}

/** GUID text -> 16 bytes in on-disk (mixed-endian) order. */
export function guidToBytes(text: string): Buffer {
  const g = normalizeGuid(text);
  const m = GUID_RE.exec(g);
  if (!m) throw new Error(`not a GUID: ${JSON.stringify(text)}`);
  const [, a, b, c, d, e] = m as unknown as [string, string, string, string, string, string];
  const out = Buffer.alloc(16);
  out.writeUInt32LE(parseInt(a, 16), 0);
  out.writeUInt16LE(parseInt(b, 16), 4);
  out.writeUInt16LE(parseInt(c, 16), 6);
  Buffer.from(d + e, 'hex').copy(out, 8);
  return out;
}

/** 16 on-disk (mixed-endian) bytes at `offset` -> lowercase GUID text without braces. */
export function bytesToGuid(buf: Uint8Array, offset = 0): string {
  if (buf.length < offset + 16) throw new Error(`need 16 bytes for a GUID at offset ${offset}, have ${buf.length - offset}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset + offset, 16);
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return [hex(b.readUInt32LE(0), 8), hex(b.readUInt16LE(4), 4), hex(b.readUInt16LE(6), 4), b.subarray(8, 10).toString('hex'), b.subarray(10, 16).toString('hex')].join('-');
}
