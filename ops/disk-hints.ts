/**
 * target_disk_hints: choose the target by stable facts (serial, WWN, size...) instead of a kernel name that
 * changes with probe order. Every criterion given must match; exactly one disk may remain (or `pick` chooses
 * the smallest or largest). The boot medium, removable media, read-only disks, loop devices and the paths of a
 * multipath device never match.
 */
import { z } from 'zod';
import { DiskError, type DiskFacts } from './disks.ts';
import { formatBytes, parseSize, SizeError } from './sizes.ts';

export const TRANSPORTS = ['nvme', 'sata', 'sas', 'usb', 'virtio'] as const;

const SIZE_TEST = /^\s*(>=|<=|==|=|>|<)\s*(\S.*)$/;

/** `>= 400G`: an operator and a size (binary units, as partition sizes). */
export function sizeTestProblem(text: string): string | undefined {
  const m = SIZE_TEST.exec(text);
  if (!m) return `"${text}" is not a size test: an operator (>=, <=, >, <, =) and a size, like ">= 400G"`;
  try {
    const s = parseSize(m[2]!);
    if (s.kind === 'rest') return `"${text}": 100% is not a disk size`;
  } catch (e) {
    if (e instanceof SizeError) return e.message;
    throw e;
  }
  return undefined;
}

const sizeTest = z.string().superRefine((v, ctx) => {
  const problem = sizeTestProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Text compared exactly, or as a glob (`*` any run of characters, `?` one). */
const pattern = z.string().min(1).max(256);

export const DiskHints = z.strictObject({
  serial: pattern.optional(),
  wwn: pattern.optional(),
  model: pattern.optional(),
  vendor: pattern.optional(),
  /** One test or several, all of which must hold: `">= 400G"`, `[">= 400G", "<= 2T"]`. */
  size: z.union([sizeTest, z.array(sizeTest).min(1).max(4)]).optional(),
  rotational: z.boolean().optional(),
  transport: z.enum(TRANSPORTS).optional(),
  hctl: pattern.optional(),
  /** A /dev/disk/by-path name, with or without the directory. */
  by_path: pattern.optional(),
  /** The kernel name (`sda`, `/dev/sda`): as unstable as target_disk, but a further check. */
  name: pattern.optional(),
  /** Several disks match: take the smallest or the largest instead of refusing. */
  pick: z.enum(['smallest', 'largest']).optional(),
});
export type DiskHints = z.infer<typeof DiskHints>;

const CRITERIA = ['serial', 'wwn', 'model', 'vendor', 'size', 'rotational', 'transport', 'hctl', 'by_path', 'name'] as const;

/** A hints object with no criterion would match every disk: refused by the recipe schema. */
export const hasCriterion = (h: DiskHints) => CRITERIA.some((k) => h[k] !== undefined);

const escape = (c: string) => c.replace(/[.+^${}()|[\]\\]/g, '\\$&');

/** Exact, or a glob with `*` and `?`. */
export function globMatch(pattern: string, text: string, caseless = false): boolean {
  const re = new RegExp(`^${[...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escape(c))).join('')}$`, caseless ? 'is' : 's');
  return re.test(text);
}

const normWwn = (w: string) => w.trim().toLowerCase().replace(/^0x/, '');

function sizeHolds(test: string, bytes: number): boolean {
  const m = SIZE_TEST.exec(test)!;
  const size = parseSize(m[2]!);
  const want = size.kind === 'bytes' ? size.bytes : 0;
  switch (m[1]) {
    case '>=':
      return bytes >= want;
    case '<=':
      return bytes <= want;
    case '>':
      return bytes > want;
    case '<':
      return bytes < want;
    default:
      return bytes === want;
  }
}

const shown = (v: string | undefined) => (v === undefined ? 'none' : `"${v}"`);

/** Why this disk can never be a hinted target, whatever the hints say. */
export function neverMatches(d: DiskFacts): string | undefined {
  if (d.kind === 'image') return 'a disk image file';
  if (d.bootMedium) return "the running system's boot medium";
  if (d.removable) return 'removable media';
  if (d.readOnly) return 'read-only';
  if (d.transport === 'loop' || d.name.startsWith('loop')) return 'a loop device';
  if (d.multipathOf) return `one path of multipath device ${d.multipathOf}`;
  return undefined;
}

/** The criteria this disk fails, each with the fact that ruled it out; empty when every criterion holds. */
export function mismatches(h: DiskHints, d: DiskFacts): string[] {
  const out: string[] = [];
  const text = (key: string, want: string | undefined, have: string | undefined, caseless = false) => {
    if (want !== undefined && (have === undefined || !globMatch(want, have, caseless))) out.push(`${key} is ${shown(have)}, not "${want}"`);
  };
  text('serial', h.serial, d.serial);
  if (h.wwn !== undefined && (d.wwn === undefined || !globMatch(normWwn(h.wwn), normWwn(d.wwn), true))) out.push(`wwn is ${shown(d.wwn)}, not "${h.wwn}"`);
  text('model', h.model, d.model);
  text('vendor', h.vendor, d.vendor);
  for (const t of h.size === undefined ? [] : [h.size].flat()) {
    if (!sizeHolds(t, d.sizeBytes)) out.push(`size is ${formatBytes(d.sizeBytes)} (${d.sizeBytes} bytes), not ${t.trim()}`);
  }
  if (h.rotational !== undefined && d.rotational !== h.rotational) {
    out.push(`rotational is ${d.rotational === undefined ? 'unknown' : d.rotational}, not ${h.rotational}`);
  }
  if (h.transport !== undefined && d.transport !== h.transport) out.push(`transport is ${shown(d.transport)}, not "${h.transport}"`);
  text('hctl', h.hctl, d.hctl);
  if (h.by_path !== undefined) {
    const want = h.by_path.replace(/^\/dev\/disk\/by-path\//, '');
    const paths = d.byPath ?? [];
    if (!paths.some((p) => globMatch(want, p))) out.push(`by_path is ${paths.length ? paths.join(' or ') : 'unknown'}, not "${h.by_path}"`);
  }
  if (h.name !== undefined) {
    const want = h.name.replace(/^\/dev\//, '');
    if (!globMatch(want, d.name)) out.push(`name is "${d.name}", not "${want}"`);
  }
  return out;
}

/** The hints as one line, in the kernel argument's form: `serial:ABC123,size:>=400G`. */
export function describeHints(h: DiskHints): string {
  const parts: string[] = [];
  for (const k of [...CRITERIA, 'pick'] as const) {
    const v = h[k];
    if (v === undefined) continue;
    for (const one of [v].flat()) parts.push(`${k}:${String(one).replace(/\s+/g, '')}`);
  }
  return parts.join(',');
}

export interface RuledOut {
  path: string;
  reasons: string[];
}

/** Which disk the hints chose, and why each other disk was not. */
export interface HintChoice {
  disk: DiskFacts;
  /** What decided it, for the plan and the report. */
  why: string;
  ruledOut: RuledOut[];
}

/** A refusal (exit 3): the hints do not pick exactly one disk. */
export class HintsRefused extends DiskError {
  constructor(
    message: string,
    readonly lines: string[],
    readonly ruledOut: RuledOut[],
  ) {
    super(`${message}:\n${lines.map((l) => `    ${l}`).join('\n')}`);
  }
  override name = 'HintsRefused';
}

const facts = (d: DiskFacts) =>
  [formatBytes(d.sizeBytes), d.transport, d.model && `model "${d.model}"`, d.serial && `serial "${d.serial}"`, d.wwn && `wwn ${d.wwn}`, d.hctl && `hctl ${d.hctl}`]
    .filter(Boolean)
    .join(', ');

/** Exactly one disk for these hints, or HintsRefused listing the candidates (several) or every disk and what ruled it out (none). */
export function chooseByHints(h: DiskHints, disks: DiskFacts[]): HintChoice {
  const ruledOut: RuledOut[] = [];
  const matching: DiskFacts[] = [];
  for (const d of disks) {
    const never = neverMatches(d);
    const reasons = never ? [never] : mismatches(h, d);
    if (reasons.length) ruledOut.push({ path: d.path, reasons });
    else matching.push(d);
  }
  const said = describeHints(h);
  if (!matching.length) {
    const lines = disks.length ? ruledOut.map((r) => `${r.path}: ${r.reasons.join('; ')}`) : ['(lsblk found no disk at all)'];
    throw new HintsRefused(`target_disk_hints (${said}) match no disk`, lines, ruledOut);
  }
  if (matching.length === 1) return { disk: matching[0]!, why: `the only disk matching ${said}`, ruledOut };
  const candidates = matching.map((d) => `${d.path}: ${facts(d)}`);
  if (!h.pick) throw new HintsRefused(`target_disk_hints (${said}) match ${matching.length} disks; add a criterion (serial, wwn, by_path) or "pick"`, candidates, ruledOut);
  const sorted = [...matching].sort((a, b) => (h.pick === 'smallest' ? a.sizeBytes - b.sizeBytes : b.sizeBytes - a.sizeBytes));
  const [first, second] = sorted as [DiskFacts, DiskFacts];
  if (first.sizeBytes === second.sizeBytes) {
    const ties = sorted.filter((d) => d.sizeBytes === first.sizeBytes).map((d) => `${d.path}: ${facts(d)}`);
    throw new HintsRefused(`target_disk_hints (${said}) match several disks of the same ${h.pick} size; "pick" cannot choose between`, ties, ruledOut);
  }
  const others = sorted.slice(1).map((d) => ({ path: d.path, reasons: [`matches too, but is not the ${h.pick} (${formatBytes(d.sizeBytes)})`] }));
  return { disk: first, why: `the ${h.pick} of ${matching.length} disks matching ${said}`, ruledOut: [...others, ...ruledOut] };
}

/**
 * The kernel argument's form, `serial:ABC123,size:>=400G,transport:nvme` (a criterion given twice, as size is
 * for a range, must hold both times). Values cannot hold a comma; a recipe's hints can.
 */
export function parseHintsText(text: string): { hints?: DiskHints; problem?: string } {
  const out: Record<string, unknown> = {};
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = item.indexOf(':');
    if (at <= 0) return { problem: `"${item}" is not KEY:VALUE (keys: ${[...CRITERIA, 'pick'].join(', ')})` };
    const key = item.slice(0, at);
    const value = item.slice(at + 1);
    if (!(key in DiskHints.shape)) return { problem: `"${key}" is not a disk hint (keys: ${[...CRITERIA, 'pick'].join(', ')})` };
    if (key === 'rotational') out[key] = ['1', 'true', 'yes'].includes(value.toLowerCase()) ? true : ['0', 'false', 'no'].includes(value.toLowerCase()) ? false : value;
    else if (key === 'size') out.size = [...((out.size as string[] | undefined) ?? []), value];
    else out[key] = value;
  }
  const r = DiskHints.safeParse(out);
  if (!r.success) return { problem: r.error.issues.map((i) => `${i.path.join('.') || 'hints'}: ${i.message}`).join('; ') };
  if (!hasCriterion(r.data)) return { problem: 'names no criterion (serial, wwn, model, vendor, size, rotational, transport, hctl, by_path, name)' };
  return { hints: r.data };
}

export interface HintVerdict {
  verdict: 'chosen' | 'matches' | 'ruled out';
  reasons: string[];
}

/** The hints' verdict on each disk: the one they chose, and what ruled out each other one. */
export function hintVerdicts(hints: DiskHints, disks: DiskFacts[]): Map<string, HintVerdict> {
  const out = new Map<string, HintVerdict>();
  let ruledOut;
  try {
    const choice = chooseByHints(hints, disks);
    out.set(choice.disk.path, { verdict: 'chosen', reasons: [choice.why] });
    ruledOut = choice.ruledOut;
  } catch (e) {
    if (!(e instanceof HintsRefused)) throw e;
    ruledOut = e.ruledOut;
  }
  for (const r of ruledOut) out.set(r.path, { verdict: 'ruled out', reasons: r.reasons });
  // Refused for several matches: the ones left over match, and none is chosen.
  for (const d of disks) if (!out.has(d.path)) out.set(d.path, { verdict: 'matches', reasons: [`matches ${describeHints(hints)}, as another disk does: add a criterion`] });
  return out;
}
