export const MiB = 1024 * 1024;

/** `512M`, `1G`, `1GiB`, `1GB`, `2T`, `100%`. Every unit is binary (as sgdisk reads `+1G`). */
const SIZE_PATTERN = /^(?:(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?|100%)$/i;

export type Size = { kind: 'bytes'; bytes: number } | { kind: 'rest' };

const UNIT: Record<string, number> = { K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB };

/** A size the recipe cannot mean: bad input, named by the caller with the field it came from. */
export class SizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SizeError';
  }
}

export function parseSize(text: string): Size {
  const m = SIZE_PATTERN.exec(text.trim());
  if (!m) throw new SizeError(`"${text}" is not a size: a number with K, M, G or T (binary units) like 512M, 1G, 1GiB or 2T, or 100%`);
  if (!m[1]) return { kind: 'rest' };
  const bytes = Math.round(Number(m[1]) * UNIT[m[2]!.toUpperCase()]!);
  // `0G` and `0.0001K` round to nothing; thousands of digits overflow to Infinity.
  if (bytes <= 0) throw new SizeError(`"${text}" is not a positive size (it is less than one byte)`);
  if (!Number.isSafeInteger(bytes)) throw new SizeError(`"${text}" is larger than any disk`);
  return { kind: 'bytes', bytes };
}

/** Why `text` is not a size, or undefined when it is one (for the recipe schema). */
export function sizeProblem(text: string): string | undefined {
  try {
    parseSize(text);
    return undefined;
  } catch (e) {
    if (e instanceof SizeError) return e.message;
    throw e;
  }
}

export const alignDown = (n: number, to: number) => Math.floor(n / to) * to;

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}
