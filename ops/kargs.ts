/**
 * Auto mode's kernel arguments: `/proc/cmdline` -> what to install from where, and whom to tell.
 * Only `shoal.*` words are ours; everything else on the command line belongs to the kernel and systemd.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

export const DEFAULT_CMDLINE = '/proc/cmdline';
/** How long auto mode waits for the task ISO (and the target disk) to appear, unless `shoal.task_wait=` says otherwise. */
export const DEFAULT_TASK_WAIT_SECONDS = 60;

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
    super(`the shoal.* kernel arguments are not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
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

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/;

export const KargsSchema = z.object({
  auto: flag,
  recipe: recipeSource,
  webhook: needsValue.pipe(z.url({ protocol: /^https?$/, error: 'an http(s) URL of the Shoal controller' })),
  webhook_secret: needsValue.min(1, 'is empty'),
  serial: needsValue.regex(/^[\x21-\x7e]{1,128}$/, 'printable characters without spaces, at most 128'),
  disk: needsValue.startsWith('/', 'an absolute device path like /dev/sda'),
  image: needsValue.regex(/^\S+$/, 'an image reference like controller:8080/os-images/debian:12'),
  kargs: needsValue,
  poweroff: flag,
  reboot: flag,
  plain_http: needsValue.transform((v, ctx) => {
    const hosts = v.split(',').map((h) => h.trim()).filter(Boolean);
    for (const h of hosts) if (!HOST_PORT.test(h)) ctx.addIssue({ code: 'custom', message: `"${h}" is not HOST or HOST:PORT` });
    if (!hosts.length) ctx.addIssue({ code: 'custom', message: 'names no host (HOST[:PORT][,HOST[:PORT]...])' });
    return hosts;
  }),
  registry_ca: needsValue.regex(/^\S+$/, 'a path to a CA bundle (absolute, or relative to the task ISO)'),
  task_wait: needsValue.regex(/^\d{1,4}$/, 'whole seconds, 0 to 3600').transform(Number).pipe(z.number().max(3600, 'at most 3600 s')),
});
type KargKey = keyof typeof KargsSchema.shape;

/** Values never echoed back, not even in an error message. */
const SECRET_KEYS = new Set<string>(['webhook_secret']);

/** Credentials are refused outright: /proc/cmdline is world-readable and the console prints it. */
const CREDENTIAL_KEYS = new Set(['registry_password', 'registry_username', 'registry_user', 'registry_token', 'registry_auth', 'password']);

const EVERY_USER_READS =
  'the kernel command line is readable by every user (/proc/cmdline) and printed on the console and in the boot log';

/** Parse the `shoal.*` words of a kernel command line. Never throws: problems and warnings are returned. */
export function parseKernelArgs(cmdline: string): ParsedKernelArgs {
  const warnings: string[] = [];
  const problems: string[] = [];
  const raw = new Map<KargKey, Raw>();
  for (const { key, value } of cmdlineParams(cmdline)) {
    if (!key.startsWith('shoal.')) continue;
    const name = key.slice('shoal.'.length);
    if (CREDENTIAL_KEYS.has(name)) {
      problems.push(
        `${key}: registry credentials are never taken from the kernel command line (${EVERY_USER_READS}): put the password in a registry_password file beside recipe.json on the task ISO, or in the recipe's registry block`,
      );
      continue;
    }
    if (!(name in KargsSchema.shape)) {
      warnings.push(`${key}: unknown shoal.* kernel argument, ignored (known: ${Object.keys(KargsSchema.shape).map((k) => `shoal.${k}`).join(', ')})`);
      continue;
    }
    if (raw.has(name as KargKey)) warnings.push(`${key} is given more than once: the last one counts`);
    raw.set(name as KargKey, value ?? true);
  }

  const parsed: Partial<Record<KargKey, unknown>> = {};
  for (const [name, value] of raw) {
    const result = KargsSchema.shape[name].safeParse(value);
    if (result.success) {
      parsed[name] = result.data;
    } else {
      const shown = SECRET_KEYS.has(name) || value === true ? '' : ` ("${value}")`;
      problems.push(`shoal.${name}${shown}: ${result.error.issues.map((i) => i.message).join('; ')}`);
    }
  }

  const p = parsed as Partial<z.output<typeof KargsSchema>>;
  if (p.webhook_secret !== undefined) {
    warnings.push(
      `shoal.webhook_secret is on the kernel command line: ${EVERY_USER_READS}. Put the secret in a webhook_secret file beside recipe.json on the task ISO instead`,
    );
  }
  if (p.poweroff && p.reboot) problems.push('shoal.poweroff and shoal.reboot are both set: choose one');
  if (p.webhook_secret !== undefined && p.webhook === undefined) warnings.push('shoal.webhook_secret is set but shoal.webhook is not: nothing will be reported');

  return {
    args: {
      auto: p.auto,
      recipe: p.recipe,
      webhook: p.webhook,
      webhookSecret: p.webhook_secret,
      serial: p.serial,
      disk: p.disk,
      image: p.image,
      kargs: p.kargs,
      after: p.poweroff ? 'poweroff' : p.reboot ? 'reboot' : undefined,
      plainHttp: p.plain_http,
      registryCa: p.registry_ca,
      taskWaitSeconds: p.task_wait ?? DEFAULT_TASK_WAIT_SECONDS,
    },
    warnings,
    problems,
  };
}

/** Read and parse the command line (`/proc/cmdline`, or a file standing in for it). An unreadable file is a problem. */
export async function readKernelArgs(path = DEFAULT_CMDLINE): Promise<ParsedKernelArgs> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const parsed = parseKernelArgs('');
    parsed.problems.push(`cannot read the kernel command line from ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return parsed;
  }
  return parseKernelArgs(text);
}
