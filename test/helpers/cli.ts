import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { InstallEvent } from '../../ops/events.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = `${REPO}dist/shoal-install.mjs`;

let built = false;
/** Tests run the bundle the maintenance OS ships, not the sources. */
export function ensureBundle(): string {
  if (!built) execFileSync('node', ['scripts/build.mjs'], { cwd: REPO, stdio: 'ignore' });
  built = true;
  return BUNDLE;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  events: InstallEvent[];
}

/** Run `shoal-install ARGS`; `onSpawn` gets the process, `onLine` sees each stdout line as it comes (to act mid-install). */
export function runCli(
  args: string[],
  opts: { onLine?: (line: string, child: ChildProcess) => void; onSpawn?: (child: ChildProcess) => void; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliRun> {
  const bundle = ensureBundle();
  return new Promise((resolve, reject) => {
    const child = spawn('node', [bundle, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) opts.onLine?.(l, child);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as InstallEvent);
      resolve({ code, stdout, stderr, events });
    });
  });
}

export const resultOf = (r: CliRun) => r.events.find((e): e is Extract<InstallEvent, { type: 'result' }> => e.type === 'result')?.result;
