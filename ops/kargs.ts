/**
 * Auto mode's kernel arguments: `/proc/cmdline` -> what to install from where, and whom to tell.
 * Only `shoal.*` words are ours; everything else on the command line belongs to the kernel and systemd.
 * shoal.conf files use the same words and the same schema (ops/settings.ts merges the sources).
 */
import { z } from 'zod';
import { parseHintsText, type DiskHints } from './disk-hints.ts';
import type { RegistryOptions } from './recipe.ts';

export const DEFAULT_CMDLINE = '/proc/cmdline';
/** How long auto mode waits for the task ISO (and the target disk) to appear, unless `shoal.task_wait=` says otherwise. */
export const DEFAULT_TASK_WAIT_SECONDS = 60;
/** How long the boot looks for a task ISO before starting the console installer, unless `shoal.detect_wait=` says otherwise. */
export const DEFAULT_DETECT_WAIT_SECONDS = 15;
/** How long auto mode waits for the registry to be reachable (DHCP, links coming up), unless `shoal.net_wait=` says otherwise. */
export const DEFAULT_NET_WAIT_SECONDS = 120;

/** Where the recipe comes from: a file (its directory stands in for the task ISO), a URL, or a device holding the task ISO. */
export type RecipeSource = { kind: 'file'; path: string } | { kind: 'url'; url: string } | { kind: 'device'; device: string };

export interface KernelArgs {
  /** `shoal.auto` / `shoal.auto=1`: run headless at boot; `shoal.auto=0` turns it off. Undefined when absent. */
  auto?: boolean;
  recipe?: RecipeSource;
  webhook?: string;
  /** Only from `shoal.webhook_secret=` (discouraged: every user can read the kernel command line). */
  webhookSecret?: string;
  serial?: string;
  disk?: string;
  /** Overrides the recipe's `target_disk_hints` (`shoal.disk_hints=serial:ABC123,size:>=400G`). */
  diskHints?: DiskHints;
  /** Overrides the recipe's `oci_url`. */
  image?: string;
  /** Overrides (or sets) the recipe's `kernel_args`; may be empty to clear them. */
  kargs?: string;
  /** What to do after a successful install (default: stay up). */
  after?: 'poweroff' | 'reboot';
  plainHttp?: string[];
  /** A CA bundle for the registry; a relative path is on the task ISO. */
  registryCa?: string;
  taskWaitSeconds: number;
  detectWaitSeconds: number;
  /** 0: do not wait for the registry. */
  netWaitSeconds: number;
  /**
   * Override the recipe's `registry` fields: mirrors (shoal.registry_mirror=) and patience (shoal.registry_low_speed_limit=,
   * _low_speed_time=, _retries=, shoal.busy_patience=).
   */
  registryOverrides: Pick<RegistryOptions, 'mirrors' | 'low_speed_limit' | 'low_speed_time' | 'retries' | 'busy_patience'>;
  /** shoal.busy_patience= also bounds how long the webhook waits on a busy controller. */
  busyPatienceSeconds?: number;
}

export interface ParsedKernelArgs {
  args: KernelArgs;
  /** Worth a line on the console and in the log; the install goes on. */
  warnings: string[];
  /** Invalid arguments: auto mode refuses to touch a disk and reports `provision-dispatcher.service`. */
  problems: string[];
}

export class KernelArgsError extends Error {
  constructor(readonly problems: string[]) {
    super(`the shoal.* settings are not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'KernelArgsError';
  }
}

/** One word of the command line: `key` alone (value undefined) or `key=value` (value may be empty). */
export interface CmdlineParam {
  key: string;
  value: string | undefined;
}

/**
 * Split a kernel command line the way the kernel does: words are separated by whitespace, except inside double
 * quotes; the quotes themselves are dropped (`shoal.kargs="a b"` and `"shoal.kargs=a b"` both give `a b`).
 */
export function splitCmdline(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

export function cmdlineParams(text: string): CmdlineParam[] {
  return splitCmdline(text)
    .filter((w) => w !== '--')
    .map((w) => {
      const eq = w.indexOf('=');
      return eq < 0 ? { key: w, value: undefined } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
}

// --- the schema, one entry per shoal.* key -----------------------------------------------------------------

/** A bare word is `true`; an assignment carries its text. */
type Raw = true | string;

const TRUE_WORDS = ['1', 'yes', 'true', 'on', 'y'];
const FALSE_WORDS = ['0', 'no', 'false', 'off', 'n'];

const flag = z.union([z.literal(true), z.string()]).transform((v, ctx) => {
  if (v === true || TRUE_WORDS.includes(v.toLowerCase())) return true;
  if (FALSE_WORDS.includes(v.toLowerCase())) return false;
  ctx.addIssue({ code: 'custom', message: 'a switch: give it alone, or =1 / =0' });
  return z.NEVER;
});

const needsValue = z.string({ error: 'needs a value (key=value)' });

const recipeSource = needsValue.transform((v, ctx): RecipeSource => {
  if (/^https?:\/\//i.test(v)) {
    if (!z.url({ protocol: /^https?$/ }).safeParse(v).success) ctx.addIssue({ code: 'custom', message: 'not a valid http(s) URL' });
    return { kind: 'url', url: v };
  }
  if (v.startsWith('/dev/')) return { kind: 'device', device: v };
  if (v.startsWith('/')) return { kind: 'file', path: v };
  ctx.addIssue({ code: 'custom', message: 'a recipe file (/path/recipe.json), an http(s) URL, or a device holding the task ISO (/dev/sr1)' });
  return z.NEVER;
});

const seconds = (max: number) =>
  needsValue
    .regex(/^\d{1,4}$/, `whole seconds, 0 to ${max}`)
    .transform(Number)
    .pipe(z.number().max(max, `at most ${max} s`));

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/;

const hostList = needsValue.transform((v, ctx) => {
  const hosts = v
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (const h of hosts) if (!HOST_PORT.test(h)) ctx.addIssue({ code: 'custom', message: `"${h}" is not HOST or HOST:PORT` });
  if (!hosts.length) ctx.addIssue({ code: 'custom', message: 'names no host (HOST[:PORT][,HOST[:PORT]...])' });
  return hosts;
});

export const KargsSchema = z.object({
  auto: flag,
  recipe: recipeSource,
  webhook: needsValue.pipe(z.url({ protocol: /^https?$/, error: 'an http(s) URL of the Shoal controller' })),
  webhook_secret: needsValue.min(1, 'is empty'),
  serial: needsValue.regex(/^[\x21-\x7e]{1,128}$/, 'printable characters without spaces, at most 128'),
  disk: needsValue.startsWith('/', 'an absolute device path like /dev/sda'),
  disk_hints: needsValue.transform((v, ctx) => {
    const { hints, problem } = parseHintsText(v);
    if (!hints) ctx.addIssue({ code: 'custom', message: problem ?? 'not disk hints' });
    return hints ?? z.NEVER;
  }),
  image: needsValue.regex(/^\S+$/, 'an image reference like controller:8080/os-images/debian:12'),
  kargs: needsValue,
  poweroff: flag,
  reboot: flag,
  plain_http: hostList,
  registry_ca: needsValue.regex(/^\S+$/, 'a path to a CA bundle (absolute, or relative to the task ISO)'),
  task_wait: seconds(3600),
  detect_wait: seconds(600),
  net_wait: seconds(3600),
  registry_mirror: hostList,
  registry_low_speed_limit: needsValue
    .regex(/^\d{1,7}$/, 'whole KiB/s, 0 (off) to 1048576')
    .transform(Number)
    .pipe(z.number().max(1024 * 1024, 'at most 1048576 KiB/s')),
  registry_low_speed_time: seconds(3600).pipe(z.number().min(1, 'at least 1 s')),
  registry_retries: needsValue
    .regex(/^\d{1,3}$/, 'a number of attempts, 1 to 100')
    .transform(Number)
    .pipe(z.number().min(1, 'at least 1').max(100, 'at most 100')),
  busy_patience: needsValue
    .regex(/^\d{1,5}$/, 'whole seconds, 0 to 86400')
    .transform(Number)
    .pipe(z.number().max(86_400, 'at most 86400 s')),
});
export type KargKey = keyof typeof KargsSchema.shape;

/** Values never echoed back, not even in an error message. */
export const SECRET_KEYS = new Set<string>(['webhook_secret']);

/** Credentials are refused outright: /proc/cmdline is world-readable and the console prints it; shoal.conf is not their place either. */
const CREDENTIAL_KEYS = new Set(['registry_password', 'registry_username', 'registry_user', 'registry_token', 'registry_auth', 'password']);

const EVERY_USER_READS = 'the kernel command line is readable by every user (/proc/cmdline) and printed on the console and in the boot log';

/** The validated `shoal.*` values of one source (the command line or one shoal.conf), by key. */
export type KargValues = Partial<z.output<typeof KargsSchema>>;

/** One source's words: validated values, and the words as given (for the log of where each setting came from). */
export interface ParsedWords {
  values: KargValues;
  given: Map<KargKey, Raw>;
  warnings: string[];
  problems: string[];
}

/** A word that is not `shoal.KEY[=VALUE]`, shown without what follows `=` (it may be a secret typed without its prefix). */
const shownWord = (word: string) => `"${word.includes('=') ? `${word.slice(0, word.indexOf('='))}=...` : word.slice(0, 64)}"`;

/**
 * Validate the `shoal.*` words of one source. `file` names a shoal.conf (where every word must be a `shoal.*`
 * setting); without it the words are the kernel command line's (where the other words belong to the kernel).
 */
export function parseShoalWords(params: CmdlineParam[], file?: string): ParsedWords {
  const warnings: string[] = [];
  const problems: string[] = [];
  const raw = new Map<KargKey, Raw>();
  const where = file ? ` in ${file}` : '';
  for (const { key, value } of params) {
    if (!key.startsWith('shoal.')) {
      if (file) problems.push(`${shownWord(value === undefined ? key : `${key}=${value}`)}${where}: not a shoal.* setting (shoal.KEY or shoal.KEY=VALUE)`);
      continue;
    }
    const name = key.slice('shoal.'.length);
    if (CREDENTIAL_KEYS.has(name)) {
      problems.push(
        file
          ? `${key}${where}: registry credentials are never taken from shoal.conf: put the password in a registry_password file beside recipe.json on the task ISO, or in the recipe's registry block`
          : `${key}: registry credentials are never taken from the kernel command line (${EVERY_USER_READS}): put the password in a registry_password file beside recipe.json on the task ISO, or in the recipe's registry block`,
      );
      continue;
    }
    if (!(name in KargsSchema.shape)) {
      warnings.push(
        `${key}${where}: unknown shoal.* ${file ? 'setting' : 'kernel argument'}, ignored (known: ${Object.keys(KargsSchema.shape)
          .map((k) => `shoal.${k}`)
          .join(', ')})`,
      );
      continue;
    }
    if (raw.has(name as KargKey)) warnings.push(`${key} is given more than once${where}: the last one counts`);
    raw.set(name as KargKey, value ?? true);
  }

  const values: Partial<Record<KargKey, unknown>> = {};
  for (const [name, value] of raw) {
    const result = KargsSchema.shape[name].safeParse(value);
    if (result.success) {
      values[name] = result.data;
    } else {
      const shown = SECRET_KEYS.has(name) || value === true ? '' : ` ("${value}")`;
      problems.push(`shoal.${name}${shown}${where}: ${result.error.issues.map((i) => i.message).join('; ')}`);
    }
  }

  const p = values as KargValues;
  if (p.webhook_secret !== undefined && !file) {
    warnings.push(`shoal.webhook_secret is on the kernel command line: ${EVERY_USER_READS}. Put the secret in a webhook_secret file beside recipe.json on the task ISO instead`);
  }
  if (p.poweroff && p.reboot) problems.push(`shoal.poweroff and shoal.reboot are both set${where}: choose one`);
  return { values: p, given: raw, warnings, problems };
}

/** The settings auto mode works with, from the validated values (of one source, or merged from several). */
export function kernelArgsFrom(p: KargValues): KernelArgs {
  return {
    auto: p.auto,
    recipe: p.recipe,
    webhook: p.webhook,
    webhookSecret: p.webhook_secret,
    serial: p.serial,
    disk: p.disk,
    ...(p.disk_hints ? { diskHints: p.disk_hints } : {}),
    image: p.image,
    kargs: p.kargs,
    after: p.poweroff ? 'poweroff' : p.reboot ? 'reboot' : undefined,
    plainHttp: p.plain_http,
    registryCa: p.registry_ca,
    taskWaitSeconds: p.task_wait ?? DEFAULT_TASK_WAIT_SECONDS,
    detectWaitSeconds: p.detect_wait ?? DEFAULT_DETECT_WAIT_SECONDS,
    netWaitSeconds: p.net_wait ?? DEFAULT_NET_WAIT_SECONDS,
    registryOverrides: JSON.parse(
      JSON.stringify({
        mirrors: p.registry_mirror,
        low_speed_limit: p.registry_low_speed_limit,
        low_speed_time: p.registry_low_speed_time,
        retries: p.registry_retries,
        busy_patience: p.busy_patience,
      }),
    ),
    busyPatienceSeconds: p.busy_patience,
  };
}

/** A warning about the settings as a whole, once every source is merged. */
export function crossWarnings(p: KargValues): string[] {
  return p.webhook_secret !== undefined && p.webhook === undefined ? ['shoal.webhook_secret is set but shoal.webhook is not: nothing will be reported'] : [];
}

/** Parse the `shoal.*` words of a kernel command line. Never throws: problems and warnings are returned. */
export function parseKernelArgs(cmdline: string): ParsedKernelArgs {
  const { values, warnings, problems } = parseShoalWords(cmdlineParams(cmdline));
  return { args: kernelArgsFrom(values), warnings: [...warnings, ...crossWarnings(values)], problems };
}
