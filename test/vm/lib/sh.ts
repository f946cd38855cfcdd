import { execa } from 'execa';

export interface ShOptions {
  /** Each output line (stdout and stderr) as it arrives, for progress on slow commands. */
  onLine?: (line: string) => void;
  input?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
}

/** Run a command to completion and return its stdout; a failure throws with the command line and the tail of its output. */
export async function sh(argv: readonly string[], opts: ShOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  if (!file) throw new Error('sh: empty command');
  const onLine = opts.onLine;
  const tee = onLine
    ? function* (line: unknown) {
        onLine(String(line));
        yield line;
      }
    : 'pipe';
  const r = await execa(file, args, {
    reject: false,
    all: true,
    cwd: opts.cwd,
    env: opts.env,
    stdout: tee,
    stderr: tee,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
  });
  if (r.failed) {
    const tail = String(r.all ?? '')
      .trimEnd()
      .split('\n')
      .slice(-25)
      .join('\n');
    const how = r.exitCode !== undefined ? `exit code ${r.exitCode}` : (r.signal ?? r.code ?? 'unknown error');
    throw new Error(`${argv.join(' ')} failed (${how})${tail ? `:\n${tail}` : ''}`);
  }
  return String(r.stdout);
}
