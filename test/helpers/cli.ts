import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseEventLine, type InstallEvent } from '../../ops/events.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = `${REPO}dist/shoal-install.mjs`;

let built = false;
/** Tests run the bundle the maintenance OS ships, not the sources. */
export function ensureBundle(): string {
  if (!built) execFileSync('node', ['scripts/build.mjs'], { cwd: REPO, stdio: 'ignore' });
  built = true;
  return BUNDLE;
}

/** The node options the installed wrapper (scripts/shoal-install.sh) runs the bundle with, read from it. */
export function wrapperNodeFlags(): string[] {
  const wrapper = readFileSync(`${REPO}scripts/shoal-install.sh`, 'utf8');
  const flags = /^exec node (.*?) ?\/usr\/local\/lib\/shoal-install\/shoal-install\.mjs "\$@"$/m.exec(wrapper);
  if (!flags) throw new Error('scripts/shoal-install.sh: no `exec node ... shoal-install.mjs "$@"` line');
  return flags[1]!.split(/\s+/).filter(Boolean);
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  events: InstallEvent[];
  /** With noFirmware: the mountpoints the install left in its namespace (else nothing is known here: empty). */
  leftMounted: string[];
}

/** Marks the lines the no-firmware wrapper adds to stderr: what the install left mounted in its namespace. */
const LEFT = 'shoal-test-left-mounted: ';

/**
 * `node BUNDLE ARGS` in a mount namespace of its own whose /sys/firmware is an empty tmpfs: the installer finds
 * no UEFI and no efivars (machine.ts), and efibootmgr there finds no variables to write, so an install under test
 * never writes the host's firmware boot entries, whatever the host booted with. The install's mounts stay in
 * that namespace, so before it goes the wrapper lists what the install left mounted there (CliRun.leftMounted):
 * mounts that were not there when it started (other installs' mounts are copied into the namespace too).
 */
const withoutFirmware = (bundle: string, args: string[]) =>
  [
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `mount -t tmpfs -o ro,size=4k shoal-test-no-firmware /sys/firmware || exit 99
before=$(awk '{ print $5 }' /proc/self/mountinfo)
node "$0" "$@"; rc=$?
awk -v before="$before" 'BEGIN { n = split(before, b, "\\n"); for (i = 1; i <= n; i++) old[b[i]] = 1 } !($5 in old) { print "${LEFT}" $5 }' /proc/self/mountinfo >&2
exit $rc`,
      bundle,
      ...args,
    ],
  ] as const;

/**
 * Run `shoal-install ARGS`; `onSpawn` gets the process, `onLine` sees each stdout line as it comes (to act
 * mid-install). `noFirmware` hides /sys/firmware from it (see withoutFirmware): for every run that reaches a
 * boot loader step; the child is then the wrapper's shell, so not for tests that signal the installer.
 */
export function runCli(
  args: string[],
  opts: { onLine?: (line: string, child: ChildProcess) => void; onSpawn?: (child: ChildProcess) => void; env?: NodeJS.ProcessEnv; timeoutMs?: number; noFirmware?: boolean } = {},
): Promise<CliRun> {
  const bundle = ensureBundle();
  return new Promise((resolve, reject) => {
    const [command, argv] = opts.noFirmware ? withoutFirmware(bundle, args) : ['node', [bundle, ...args]];
    const child = spawn(command, argv, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const events: InstallEvent[] = [];
      for (const l of stdout.split('\n').filter((l) => l.startsWith('{"'))) {
        const read = parseEventLine(l);
        if ('problem' in read) return reject(new Error(`--json printed a line that is not an install event (${read.problem}): ${l}`));
        events.push(read.event);
      }
      const leftMounted = stderr
        .split('\n')
        .filter((l) => l.startsWith(LEFT))
        .map((l) => l.slice(LEFT.length));
      resolve({ code, stdout, stderr, events, leftMounted });
    });
  });
}

export const resultOf = (r: CliRun) => r.events.find((e): e is Extract<InstallEvent, { type: 'result' }> => e.type === 'result')?.result;
