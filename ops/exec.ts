import { execa, type ResultPromise } from 'execa';

/** The one door to external commands: logs the command line (secrets redacted), keeps stderr for the error, honours aborts. */
export interface ExecOptions {
  signal?: AbortSignal;
  /** Strings that must never be shown (passwords, tokens); replaced by `***` in logged command lines. */
  redact?: string[];
  onCommand?: (line: string) => void;
  input?: string | Buffer;
  /** Leave stdin open for the caller to stream into (spawn only). */
  stdinPipe?: boolean;
  /** The caller reads stdout as a stream (a decompressor's output): not collected into the result (spawn only). */
  stdoutStream?: boolean;
  cwd?: string;
  env?: Record<string, string>;
  /** Exit codes that are not failures (e.g. wipefs on an empty disk). */
  okExitCodes?: number[];
  /** An open file descriptor of ours, given to the command as its fd 3 (flock locks what we hold). */
  fd3?: number;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    display: string,
    cause?: string,
  ) {
    const tail = stderr.trim().split('\n').slice(-6).join('\n');
    super(`${display} ${cause ?? `failed with exit code ${exitCode}`}${tail ? `:\n${tail}` : ''}`);
    this.name = 'CommandError';
  }
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  return arg !== '' && SAFE.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * A secret this long is replaced wherever it appears. A shorter one is replaced only where it stands alone, not
 * inside a longer word, file name or path: a 4-character password `ext4` hidden inside `mkfs.ext4` would garble the
 * output AND give the password away (`mkfs.***`), while an occurrence standing alone (an argument, a value after
 * `=` or `:`, a quoted word, a line of stderr) is the secret itself and is hidden like any other.
 */
const REDACT_ANYWHERE_FROM = 8;
/** What continues a word, a file name or a path, so that a short secret next to it is part of something else. */
const WORDLIKE = /[\p{L}\p{N}._/+-]/u;

function redactStandalone(text: string, secret: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1)) {
    const end = at + secret.length;
    if (at < from || WORDLIKE.test(text[at - 1] ?? '') || WORDLIKE.test(text[end] ?? '')) continue;
    out += `${text.slice(from, at)}***`;
    from = end;
  }
  return out + text.slice(from);
}

export function redactText(text: string, secrets: readonly string[] = []): string {
  // Longest first, so that a secret containing a shorter one is hidden whole.
  const ordered = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return ordered.reduce((t, s) => (s.length >= REDACT_ANYWHERE_FROM ? t.split(s).join('***') : redactStandalone(t, s)), text);
}

export function commandLine(argv: readonly string[], secrets: readonly string[] = []): string {
  return redactText(argv.map(shellQuote).join(' '), secrets);
}

function start(argv: string[], opts: ExecOptions): ResultPromise {
  const [file, ...args] = argv;
  if (!file) throw new Error('empty command');
  opts.onCommand?.(commandLine(argv, opts.redact));
  return execa(file, args, {
    cancelSignal: opts.signal,
    forceKillAfterDelay: 3000,
    reject: false,
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    stripFinalNewline: false,
    maxBuffer: 64 * 1024 * 1024,
    ...(opts.stdoutStream ? { buffer: { stdout: false } } : {}),
    ...(opts.fd3 !== undefined
      ? // execa passes any descriptor number through; its types list only 3-9.
        { stdio: ['ignore', 'pipe', 'pipe', opts.fd3 as 3] as const }
      : opts.stdinPipe
        ? { stdin: 'pipe' as const }
        : opts.input !== undefined
          ? { input: opts.input }
          : { stdin: 'ignore' }),
  });
}

async function settle(argv: string[], opts: ExecOptions, child: ResultPromise): Promise<{ stdout: string; stderr: string }> {
  const r = await child;
  const stdout = String(r.stdout ?? '');
  const stderr = redactText(String(r.stderr ?? ''), opts.redact);
  const display = commandLine(argv, opts.redact);
  if (r.isCanceled) throw new CommandError(argv, r.exitCode, stderr, display, 'was cancelled');
  if (r.failed && !(r.exitCode !== undefined && opts.okExitCodes?.includes(r.exitCode))) {
    const cause = r.exitCode === undefined ? (r.code === 'ENOENT' ? 'could not start: the command is not installed' : `was killed (${r.signal ?? r.code})`) : undefined;
    throw new CommandError(argv, r.exitCode, stderr, display, cause);
  }
  return { stdout, stderr };
}

/** Run a command to completion; throws CommandError naming the command and its stderr tail. */
export async function run(argv: string[], opts: ExecOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return settle(argv, opts, start(argv, opts));
}

/** Start a command whose stdout the caller consumes as a stream (wimapply progress); `done` settles like run(). */
export function spawn(argv: string[], opts: ExecOptions = {}): { child: ResultPromise; done: Promise<{ stdout: string; stderr: string }> } {
  const child = start(argv, { ...opts });
  return { child, done: settle(argv, opts, child) };
}

export async function commandExists(name: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${shellQuote(name)}`], { reject: false });
  return r.exitCode === 0;
}
