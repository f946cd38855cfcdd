import { createHash } from 'node:crypto';
import { fetchBody, readRegularFile } from './bounded-input.ts';
import type { Payload } from './recipe.ts';
import { shownUrl } from './report.ts';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** What a payload's first bytes say it is: cloud-init user-data (any of its formats), unattend.xml, or gzip. */
export function recognisedAs(bytes: Buffer): string | undefined {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  const head = bytes
    .subarray(0, 64)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  if (/^(#cloud-config|#cloud-boothook|#include|#part-handler|## template: *jinja|#!)/.test(head)) return 'cloud-init user-data';
  if (/^(content-type|mime-version):/i.test(head)) return 'MIME';
  if (/^(<\?xml|<unattend)/i.test(head)) return 'XML';
  return undefined;
}

export interface InlineReading {
  bytes: Buffer;
  /** `base64` only when the decoded bytes are recognisably a payload (README "Recipe"). */
  reading: 'text' | 'base64';
  /** What the decoded bytes are (base64), or why base64-looking text was taken as text. */
  why?: string;
}

/**
 * An inline `user_data`/`unattend_xml` string is base64 only when it is nothing but base64 AND decodes to what such
 * a payload starts with. A literal text is never decoded by accident: a password-like `Passw0rd1234` or any text
 * that happens to use only base64 letters stays text.
 */
export function readInline(text: string): InlineReading {
  const compact = text.replace(/\s+/g, '');
  if (compact.length >= 8 && compact.length % 4 === 0 && BASE64.test(compact)) {
    const decoded = Buffer.from(compact, 'base64');
    const kind = recognisedAs(decoded);
    if (kind) return { bytes: decoded, reading: 'base64', why: `decoded: ${kind}` };
    return { bytes: Buffer.from(text, 'utf8'), reading: 'text', why: 'it looks like base64, but does not decode to user-data, a script, MIME, XML or gzip' };
  }
  return { bytes: Buffer.from(text, 'utf8'), reading: 'text' };
}

async function bytesOf(p: Payload, what: string, inline: (text: string) => Buffer, signal?: AbortSignal): Promise<Buffer> {
  if (typeof p === 'string') return inline(p);
  if ('content' in p) return Buffer.from(p.content, 'utf8');
  if ('path' in p) return readRegularFile(p.path, what);
  return fetchBody(p.url, what, { signal });
}

/** The bytes a recipe document (`user_data`, `unattend_xml`) stands for: inline (maybe base64), content, a file, a URL. */
export function resolvePayload(p: Payload, what: string, signal?: AbortSignal): Promise<Buffer> {
  return bytesOf(p, what, (text) => readInline(text).bytes, signal);
}

/** A secret that is text (`registry.password`): taken literally, never decoded; surrounding whitespace dropped. */
export async function resolveSecretText(p: Payload, what: string, signal?: AbortSignal): Promise<string> {
  return (await bytesOf(p, what, (text) => Buffer.from(text, 'utf8'), signal)).toString('utf8').trim();
}

/** What every output may show of a secret payload: where it comes from, and for documents its size and a sha256 prefix. */
export interface PayloadSummary {
  secret: true;
  source: 'inline' | 'content' | 'path' | 'url';
  path?: string;
  /** Without user:password@ or query string. */
  url?: string;
  reading?: InlineReading['reading'];
  /** What base64 decoded to, or why base64-looking text was taken as text. */
  why?: string;
  bytes?: number;
  sha256?: string;
}

export const sha256Prefix = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/**
 * The payload as outputs may show it. `resolved` is its bytes when already read (a file, a URL). Passwords
 * (`document: false`) get no size or digest: a digest of a short secret can be checked against guesses.
 */
export function summarizePayload(p: Payload, opts: { document: boolean; resolved?: Buffer }): PayloadSummary {
  const where: PayloadSummary =
    typeof p === 'string'
      ? { secret: true, source: 'inline' }
      : 'content' in p
        ? { secret: true, source: 'content' }
        : 'path' in p
          ? { secret: true, source: 'path', path: p.path }
          : { secret: true, source: 'url', url: shownUrl(p.url) };
  if (!opts.document) return where;
  const inline = typeof p === 'string' ? readInline(p) : undefined;
  const bytes = opts.resolved ?? inline?.bytes ?? (typeof p === 'object' && 'content' in p ? Buffer.from(p.content, 'utf8') : undefined);
  return {
    ...where,
    ...(inline ? { reading: inline.reading, ...(inline.why ? { why: inline.why } : {}) } : {}),
    ...(bytes ? { bytes: bytes.length, sha256: sha256Prefix(bytes) } : {}),
  };
}

/** One line for the plan and the log: `user_data: inline base64 (cloud-init user-data), 812 bytes, sha256 0123...`. */
export function describeSummary(field: string, s: PayloadSummary): string {
  const from = s.source === 'path' ? `the file ${s.path}` : s.source === 'url' ? s.url : s.source === 'content' ? 'inline content' : `inline ${s.reading ?? 'text'}`;
  const size = s.bytes !== undefined ? `, ${s.bytes} bytes, sha256 ${s.sha256}` : '';
  return `${field}: ${from}${s.why ? ` (${s.why})` : ''}${size}`;
}

/** The recipe's secrets as text, so the runner can scrub them from every event (exec.ts redactText says how). */
export function secretTexts(values: (Buffer | string | undefined)[]): string[] {
  return values
    .filter((v): v is Buffer | string => v !== undefined)
    .map((v) => v.toString().trim())
    .filter((s) => s.length > 0);
}
