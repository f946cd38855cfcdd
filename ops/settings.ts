/**
 * The `shoal.*` settings and where each one came from. A Shoal controller cannot set kernel arguments, so a job's
 * settings travel as `shoal.conf` at the task ISO's root; an air-gapped site bakes its controller's URL into the
 * image as `/etc/shoal/shoal.conf`. Precedence, per key, highest first: the kernel command line, the task ISO's
 * shoal.conf, the image's. Every source is checked by the one schema in kargs.ts.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularFile } from './bounded-input.ts';
import {
  cmdlineParams,
  crossWarnings,
  kernelArgsFrom,
  KargsSchema,
  parseShoalWords,
  SECRET_KEYS,
  DEFAULT_CMDLINE,
  type CmdlineParam,
  type KargKey,
  type KargValues,
  type KernelArgs,
  type ParsedWords,
} from './kargs.ts';
import { shownUrl } from './report.ts';

const IMAGE_DEFAULTS_FILE = '/etc/shoal/shoal.conf';
/** The name of the settings file at the task ISO's root. */
const SHOAL_CONF = 'shoal.conf';
/** A shoal.conf holds a few lines; anything bigger is not one, and is not read into memory. */
export const MAX_CONF_BYTES = 64 * 1024;

export type Origin = 'kernel' | 'task' | 'image';

export interface SettingsSource extends ParsedWords {
  origin: Origin;
  /** How the log names it: "the kernel command line", "the task ISO's shoal.conf"... */
  label: string;
}

export interface Settings {
  args: KernelArgs;
  /** The source each set key was taken from. */
  from: Map<KargKey, SettingsSource>;
  warnings: string[];
  /** Invalid words in any source: auto mode refuses to touch a disk and reports `provision-dispatcher.service`. */
  problems: string[];
}

/** Keys that are one setting: the highest source that sets either decides both (`shoal.reboot` on the kernel command line beats the image's `shoal.poweroff`). */
const GROUPS: readonly (readonly KargKey[])[] = [['poweroff', 'reboot']];

/** Cut a `#` comment (a `#` that starts a word, outside double quotes); `unclosed` when a quote is left open. */
function stripComment(line: string): { kept: string; unclosed: boolean } {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '"') quoted = !quoted;
    else if (ch === '#' && !quoted && (i === 0 || /\s/.test(line[i - 1]!))) return { kept: line.slice(0, i), unclosed: false };
  }
  return { kept: line, unclosed: quoted };
}

/**
 * Parse a shoal.conf: the kernel command line's words (`shoal.webhook=URL shoal.poweroff`, double quotes keep
 * spaces), separated by spaces or newlines, `#` to the end of the line a comment. `file` names it in problems.
 */
export function parseConf(text: string, file: string): ParsedWords {
  const params: CmdlineParam[] = [];
  const problems: string[] = [];
  text.split(/\r?\n|\r/).forEach((line, i) => {
    const { kept, unclosed } = stripComment(line);
    // A quote never spans lines: a line with an open one is refused rather than guessed at.
    if (unclosed) problems.push(`${file} line ${i + 1}: a double quote is not closed on its line`);
    else params.push(...cmdlineParams(kept));
  });
  const parsed = parseShoalWords(params, file);
  return { ...parsed, problems: [...problems, ...parsed.problems] };
}

/**
 * Read a shoal.conf, bounded: a regular file (not a link, FIFO or device) of at most MAX_CONF_BYTES.
 * Absent is not a problem (undefined); anything else unreadable is.
 */
export async function readConfText(path: string, shown = path): Promise<{ text: string } | { problem: string } | undefined> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : { problem: `cannot read ${shown} (${code ?? (e as Error).message})` };
  }
  // A link on the task ISO could point anywhere on this machine.
  if (st.isSymbolicLink()) return { problem: `${shown} is a symbolic link: it must be a regular file` };
  try {
    return { text: (await readRegularFile(path, shown, MAX_CONF_BYTES)).toString('utf8') };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

const emptySource = (origin: Origin, label: string, problems: string[]): SettingsSource => ({
  origin,
  label,
  values: {},
  given: new Map(),
  warnings: [],
  problems,
});

/** The kernel command line: its `shoal.*` settings, and all its words (systemd's among them). */
export async function kernelSource(path = DEFAULT_CMDLINE): Promise<{ source: SettingsSource; words: CmdlineParam[] }> {
  const label = 'the kernel command line';
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { source: emptySource('kernel', label, [`cannot read the kernel command line from ${path}: ${why}`]), words: [] };
  }
  const words = cmdlineParams(text);
  return { source: { origin: 'kernel', label, ...parseShoalWords(words) }, words };
}

async function confSource(origin: Origin, label: string, path: string, shown: string): Promise<SettingsSource | undefined> {
  const read = await readConfText(path, shown);
  if (!read) return undefined;
  if ('problem' in read) return emptySource(origin, label, [read.problem]);
  return { origin, label, ...parseConf(read.text, shown) };
}

/** The image's defaults (`/etc/shoal/shoal.conf`), when the image has them. */
export async function imageSource(path = IMAGE_DEFAULTS_FILE): Promise<SettingsSource | undefined> {
  return confSource('image', `the image's defaults (${path})`, path, path);
}

/**
 * shoal.conf at the root of the task ISO mounted at `dir`. It cannot move the task ISO it sits on: a
 * `shoal.recipe=` there is refused (the recipe is this ISO's recipe.json; name another source on the kernel
 * command line or in the image's shoal.conf).
 */
export async function taskSource(dir: string): Promise<SettingsSource | undefined> {
  const shown = `${SHOAL_CONF} on the task ISO`;
  const source = await confSource('task', `the task ISO's ${SHOAL_CONF}`, join(dir, SHOAL_CONF), shown);
  if (source?.given.has('recipe')) {
    source.problems.push(
      `shoal.recipe in ${shown}: the task ISO is already found when its ${SHOAL_CONF} is read, so it cannot name another recipe; put shoal.recipe= on the kernel command line or in ${IMAGE_DEFAULTS_FILE}`,
    );
    delete source.values.recipe;
  }
  return source;
}

/** Merge sources given highest precedence first, per key (a group of keys counts as one). */
export function mergeSettings(sources: readonly (SettingsSource | undefined)[]): Settings {
  const present = sources.filter((s): s is SettingsSource => s !== undefined);
  const merged: Partial<Record<KargKey, unknown>> = {};
  const from = new Map<KargKey, SettingsSource>();
  for (const key of Object.keys(KargsSchema.shape) as KargKey[]) {
    const group = GROUPS.find((g) => g.includes(key)) ?? [key];
    const source = present.find((s) => group.some((k) => s.values[k] !== undefined));
    if (source?.values[key] === undefined) continue;
    merged[key] = source.values[key];
    from.set(key, source);
  }
  const values = merged as KargValues;
  return {
    args: kernelArgsFrom(values),
    from,
    warnings: [...present.flatMap((s) => s.warnings), ...crossWarnings(values)],
    problems: present.flatMap((s) => s.problems),
  };
}

function shownValue(key: KargKey, raw: true | string | undefined): string {
  if (raw === undefined || raw === true) return '';
  if (SECRET_KEYS.has(key)) return ' (value not shown)';
  if (/^https?:\/\//i.test(raw)) {
    try {
      return `=${shownUrl(raw)}`;
    } catch {
      return '';
    }
  }
  return `=${raw}`;
}

/** One line per set key: `shoal.webhook=http://10.0.0.1:8080/ from the task ISO's shoal.conf`. Secrets are never shown. */
export function settingOrigins(settings: Settings): string[] {
  return [...settings.from].map(([key, source]) => `shoal.${key}${shownValue(key, source.given.get(key))} from ${source.label}`);
}
