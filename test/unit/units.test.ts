/**
 * Packaging checks that run here although the maintenance image cannot be built here: the systemd units pass
 * `systemd-analyze verify`, the shell scripts pass shellcheck, and the units, the wrapper and the Containerfile
 * agree on where the installer lives.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { hasTool } from '../helpers/env.ts';
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MODE_UNITS } from '../../ops/boot-mode.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const UNITS = join(REPO, 'units');
const WRAPPER = '/usr/local/bin/shoal-install';
const BUNDLE = '/usr/local/lib/shoal-install/shoal-install.mjs';

function skipLoudly(t: TestContext, tool: string, pkg: string): boolean {
  if (hasTool(tool)) return false;
  const why = `${tool} is missing (apt-get install ${pkg}; scripts/setup-host.sh installs it)`;
  process.stderr.write(`SKIPPED ${t.name}: ${why}\n`);
  t.skip(why);
  return true;
}

async function unitFiles(): Promise<string[]> {
  return (await readdir(UNITS)).filter((f) => f.endsWith('.service')).sort();
}

/** `Key=value` lines of one section, in order (repeated keys kept). */
function section(text: string, name: string): [string, string][] {
  const out: [string, string][] = [];
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inside = line === `[${name}]`;
    else if (inside && line && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}
const values = (text: string, sec: string, key: string) =>
  section(text, sec)
    .filter(([k]) => k === key)
    .map(([, v]) => v);

test('systemd-analyze verify passes for every unit (in a scratch root with the installer in place)', async (t) => {
  if (skipLoudly(t, 'systemd-analyze', 'systemd')) return;
  const root = await mkdtemp(join(tmpdir(), 'units-verify-'));
  try {
    // The host's units (targets, getty@) so dependencies resolve, ours as the admin would install them.
    const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => spawnSync('test', ['-d', d]).status === 0)!;
    await mkdir(join(root, 'usr/lib/systemd'), { recursive: true });
    await cp(hostUnits, join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    const etc = join(root, 'etc/systemd/system');
    await mkdir(etc, { recursive: true });
    const names: string[] = [];
    for (const f of await unitFiles()) {
      await copyFile(join(UNITS, f), join(etc, f));
      // A template is verified through an instance, as systemd would start it.
      const name = f.endsWith('@.service') ? f.replace('@.service', '@ttyS0.service') : f;
      if (name !== f) await copyFile(join(UNITS, f), join(etc, name));
      names.push(name);
    }
    // Every absolute command the units run must exist and be executable in the root.
    for (const f of await unitFiles()) {
      const text = await readFile(join(UNITS, f), 'utf8');
      for (const [key, v] of section(text, 'Service')) {
        if (!key.startsWith('Exec')) continue;
        const exe = v.replace(/^[-@:+!]+/, '').split(/\s+/)[0]!;
        await mkdir(dirname(join(root, exe)), { recursive: true });
        await writeFile(join(root, exe), '#!/bin/sh\n');
        await chmod(join(root, exe), 0o755);
      }
    }
    const r = spawnSync('systemd-analyze', [`--root=${root}`, 'verify', ...names], { cwd: etc, encoding: 'utf8' });
    // verify exits 0 on "ignoring" parse warnings: any line about our units fails the test too.
    const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /shoal-install/.test(l));
    assert.equal(r.status, 0, `systemd-analyze verify failed:\n${r.stdout}${r.stderr}`);
    assert.deepEqual(ours, [], 'no warnings about our units');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the boot unit decides: oneshot `shoal-install boot`, enabled, before tty1 gets its login prompt, the console installer if it fails', async () => {
  const text = await readFile(join(UNITS, 'shoal-install-boot.service'), 'utf8');
  assert.deepEqual(values(text, 'Service', 'Type'), ['oneshot']);
  assert.deepEqual(values(text, 'Service', 'ExecStart'), [`${WRAPPER} boot`]);
  assert.deepEqual(values(text, 'Unit', 'Before'), ['getty@tty1.service']);
  assert.deepEqual(values(text, 'Unit', 'OnFailure'), ['shoal-install-console.service']);
  assert.deepEqual(values(text, 'Install', 'WantedBy'), ['multi-user.target']);
  // The wait is bounded by shoal.detect_wait (at most 600 s): systemd must not kill the decision before that.
  assert.ok(Number(values(text, 'Service', 'TimeoutStartSec')[0]) > 600);
});

test('units/enabled names existing units that can be enabled; the units the boot starts are not enabled themselves', async () => {
  // One unit per line; `#` starts a comment (the ISO build and the Containerfile both strip them).
  const enabled = (await readFile(join(UNITS, 'enabled'), 'utf8'))
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  assert.deepEqual(enabled, ['shoal-install-boot.service']);
  const files = await unitFiles();
  for (const unit of enabled) {
    assert.ok(files.includes(unit), `${unit} is in units/`);
    assert.ok(values(await readFile(join(UNITS, unit), 'utf8'), 'Install', 'WantedBy').length > 0, `${unit} has an [Install] section`);
  }
  for (const unit of [...MODE_UNITS.auto, ...MODE_UNITS.console]) {
    assert.ok(files.includes(unit), `${unit} is in units/`);
    const text = await readFile(join(UNITS, unit), 'utf8');
    assert.deepEqual(section(text, 'Install'), [], `${unit}: started by the boot unit, not by a target`);
    assert.deepEqual(values(text, 'Unit', 'ConditionKernelCommandLine'), [], `${unit}: the boot unit decides, not the kernel command line`);
  }
});

test('auto mode: oneshot after the network, journal+console, no restart', async () => {
  const text = await readFile(join(UNITS, 'shoal-install-auto.service'), 'utf8');
  assert.ok(values(text, 'Unit', 'After')[0]!.split(/\s+/).includes('network-online.target'));
  assert.deepEqual(values(text, 'Unit', 'Wants'), ['network-online.target']);
  assert.deepEqual(values(text, 'Service', 'Type'), ['oneshot']);
  assert.deepEqual(values(text, 'Service', 'ExecStart'), [`${WRAPPER} auto`]);
  assert.deepEqual(values(text, 'Service', 'StandardOutput'), ['journal+console']);
  assert.deepEqual(values(text, 'Service', 'Restart'), ['no']);
});

test('console units take over their terminal from getty and give it back on exit; the serial one steps aside for shoal.auto', async () => {
  for (const [file, getty, tty] of [
    ['shoal-install-console.service', 'getty@tty1.service', '/dev/tty1'],
    ['shoal-install-serial@.service', 'serial-getty@%i.service', '/dev/%I'],
  ] as const) {
    const text = await readFile(join(UNITS, file), 'utf8');
    for (const key of ['Conflicts', 'OnFailure', 'OnSuccess']) assert.deepEqual(values(text, 'Unit', key), [getty], `${file} ${key}`);
    assert.deepEqual(values(text, 'Service', 'ExecStart'), [WRAPPER], `${file}: no arguments opens the console UI`);
    assert.deepEqual(values(text, 'Service', 'TTYPath'), [tty]);
    for (const [key, v] of [
      ['StandardInput', 'tty'],
      ['StandardOutput', 'tty'],
      ['TTYReset', 'yes'],
      ['TTYVHangup', 'yes'],
      ['Restart', 'no'],
    ]) {
      assert.deepEqual(values(text, 'Service', key!), [v], `${file} ${key}`);
    }
  }
  const serial = await readFile(join(UNITS, 'shoal-install-serial@.service'), 'utf8');
  assert.deepEqual(values(serial, 'Unit', 'ConditionKernelCommandLine'), ['|!shoal.auto', '|shoal.auto=0']);
  const tty1 = await readFile(join(UNITS, 'shoal-install-console.service'), 'utf8');
  assert.deepEqual(values(tty1, 'Service', 'TTYVTDisallocate'), ['yes']);
});

test('the units, the wrapper and the Containerfile agree on where the installer lives', async () => {
  const wrapper = await readFile(join(REPO, 'scripts/shoal-install.sh'), 'utf8');
  assert.match(wrapper, new RegExp(`^exec node --max-semi-space-size=1 ${BUNDLE} "\\$@"$`, 'm'));
  const containerfile = await readFile(join(REPO, 'Containerfile'), 'utf8');
  assert.match(containerfile, new RegExp(`^COPY --from=bundle /src/dist/shoal-install\\.mjs ${BUNDLE}$`, 'm'));
  assert.match(containerfile, new RegExp(`^COPY scripts/shoal-install\\.sh ${WRAPPER}$`, 'm'));
  assert.match(containerfile, /^COPY units\/\*\.service \/usr\/lib\/systemd\/system\/$/m, 'every unit is installed');
  assert.match(containerfile, /^COPY units\/enabled \/usr\/local\/lib\/shoal-install\/units\.enabled$/m);
  assert.match(containerfile, /sed 's\/#\.\*\/\/' \/usr\/local\/lib\/shoal-install\/units\.enabled \| xargs --no-run-if-empty systemctl enable;/);
  const patchesAt = containerfile.indexOf('COPY patches/ ./patches/');
  assert.ok(patchesAt >= 0 && patchesAt < containerfile.indexOf('RUN npm ci'), "the dependency patches are in place for npm ci's postinstall");
  assert.match(containerfile, /^FROM \$\{BASE_IMAGE\}$/m);
  assert.match(containerfile, /^ARG BASE_IMAGE=quay\.io\/centos-bootc\/centos-bootc:stream9$/m);
  for (const pkg of [
    'nodejs',
    'gdisk',
    'parted',
    'e2fsprogs',
    'xfsprogs',
    'dosfstools',
    'mtools',
    'ntfs-3g',
    'ntfsprogs',
    'wimlib-utils',
    'zstd',
    'pigz',
    'xz',
    'tar',
    'efibootmgr',
    'util-linux',
    'dmidecode',
    'hivex',
  ]) {
    assert.match(containerfile, new RegExp(`\\s${pkg}(\\s|;|\\\\)`), `the image installs ${pkg}`);
  }
  for (const f of await unitFiles()) {
    for (const [key, v] of section(await readFile(join(UNITS, f), 'utf8'), 'Service')) {
      if (key === 'ExecStart') assert.ok(v.startsWith(WRAPPER), `${f} starts the installer through ${WRAPPER}`);
    }
  }
});

test('shellcheck passes for scripts/*.sh', async (t) => {
  if (skipLoudly(t, 'shellcheck', 'shellcheck')) return;
  const scripts = (await readdir(join(REPO, 'scripts'))).filter((f) => f.endsWith('.sh')).map((f) => join('scripts', f));
  assert.ok(scripts.includes('scripts/build_maintenance_os.sh'));
  const r = spawnSync('shellcheck', scripts, { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
});

test('build_maintenance_os.sh: --help works without podman; bad options are refused before anything runs', () => {
  const script = join(REPO, 'scripts/build_maintenance_os.sh');
  const help = execFileSync('bash', [script, '--help'], { encoding: 'utf8' });
  for (const flag of ['--flavour', '--output', '--webhook', '--set', '--rootfs', '--image-name', '--arch']) assert.ok(help.includes(flag), flag);
  // Only options refused while they are read, or by the bootc flavour's first checks: the default flavour builds an ISO.
  for (const [args, message] of [
    [['--flavour', 'bootc', '--rootfs', 'zfs'], /--rootfs must be ext4, xfs or btrfs/],
    [['--flavour', 'bootc', '--arch', 's390x'], /--arch must be x86_64 or aarch64/],
    [['--flavour', 'nope'], /--flavour must be debian or bootc/],
    [['--output'], /--output needs a value/],
    [['--bogus'], /unknown argument: --bogus/],
  ] as const) {
    const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', env: { ...process.env, PATH: '/usr/bin:/bin' } });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
});
