import { readFile } from 'node:fs/promises';
import { fetch } from 'undici';
import type { Payload } from './recipe.ts';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * An inline string is base64 only when it is nothing but base64: cloud-config (`#`, `:`) and XML (`<`)
 * always contain characters outside that alphabet, so plain text is never mistaken for it.
 */
function inlineBytes(text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact.length >= 8 && compact.length % 4 === 0 && BASE64.test(compact)) return Buffer.from(compact, 'base64');
  return Buffer.from(text, 'utf8');
}

/** The bytes a recipe payload stands for: inline, content, a file in the maintenance OS, or a URL. */
export async function resolvePayload(p: Payload, what: string, signal?: AbortSignal): Promise<Buffer> {
  if (typeof p === 'string') return inlineBytes(p);
  if ('content' in p) return Buffer.from(p.content, 'utf8');
  if ('path' in p) {
    return readFile(p.path).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`${what}: cannot read ${p.path} (${e.code ?? e.message}): is the file on the task ISO or in the maintenance OS?`);
    });
  }
  const url = new URL(p.url);
  const shown = `${url.origin}${url.pathname}`;
  const res = await fetch(p.url, { signal: signal ?? AbortSignal.timeout(60_000) }).catch((e: Error) => {
    throw new Error(`${what}: cannot fetch ${shown}: ${e.message}`);
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${what}: ${shown} answered HTTP ${res.status}`);
  }
  return Buffer.from(await res.arrayBuffer());
}

/** The recipe's secrets as text, so the runner can scrub them from every event. */
export function secretTexts(values: (Buffer | string | undefined)[]): string[] {
  return values.filter((v): v is Buffer | string => v !== undefined).map((v) => v.toString().trim()).filter((s) => s.length >= 4);
}
