/**
 * The console installer in a real terminal: tmux at 80x24 with TERM=linux runs the bundle the maintenance OS
 * ships, against a real registry and a blank disk image offered with --disk. A technician's keystrokes walk the
 * wizard, confirm with the disk's name and watch the install to the end, reading the screen with capture-pane.
 *
 * The walk uses --stop-before bootloader-linux.service: the test image holds no boot loader, and the full install
 * with the boot loader runs in the VM. Where this kernel cannot mount vfat (read from /proc/filesystems and the
 * module list, as the installer does), the planner first refuses the ESP's /boot/efi and the walk clears that
 * mountpoint in the layout editor; where it can, the default layout is accepted as it is.
 *
 * SHOAL_UPDATE_SCREENS=1 also writes each screen to docs/screens/*.txt for the README.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUNDLE, ensureBundle, REPO, runCli } from '../helpers/cli.ts';
import { loopsOf, makeDiskImage, sh } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { parseEventLine } from '../../ops/events.ts';
import { machineFacts } from '../../ops/machine.ts';
import { keepScreen, openTerminal, tmux, type Terminal } from '../helpers/tmux-terminal.ts';
import { holdBlob } from '../helpers/hold-blob.ts';
import { alive, whenRunning } from '../helpers/processes.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';

const TOOLS = ['tmux', 'docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'mkfs.ext4', 'pigz', 'setfacl', 'losetup'];
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly tech@console';
const UPDATE_SCREENS = process.env.SHOAL_UPDATE_SCREENS === '1';
const SCREENS = join(REPO, 'docs/screens');

let work: string;
let registry: TestRegistry;
let rootfsDigest: string;
const terminals: Terminal[] = [];

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-tui-tmux-'));
  registry = await startRegistry();
  const tree = join(work, 'tree');
  // Incompressible bytes, so the download and unpack last long enough to watch the bar move.
  await makeRootfsTree(tree, 160 * 1024 * 1024);
  packRootfs(tree, join(work, 'rootfs.tar.gz'), 'gzip');
  ({ digest: rootfsDigest } = await pushArtifact(registry, 'os-images/debian-rootfs:12', join(work, 'rootfs.tar.gz'), {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    artifactType: 'application/vnd.shoal.rootfs.tar.gz',
    title: 'debian-12-rootfs.tar.gz',
  }));
  ensureBundle();
  if (UPDATE_SCREENS) await mkdir(SCREENS, { recursive: true });
});

after(async () => {
  for (const term of terminals) term.kill();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A terminal of 80x24 (the Linux VT's TERM unless told) running shoal-install ARGS; its exit code goes to a file. */
function terminal(name: string, args: string[], TERM = 'linux') {
  const exitFile = join(work, `${name}.exit`);
  const quoted = args.map((a) => `'${a}'`).join(' ');
  // Ink draws nothing until exit when it believes it runs under CI: the console never does.
  const term = openTerminal(`shoal-tui-${process.pid}-${name}`, `env -u CI -u CONTINUOUS_INTEGRATION TERM=${TERM} node ${BUNDLE} ${quoted}; echo $? > ${exitFile}; sleep 600`, {
    keyDelayMs: 120,
    typeDelayMs: 200,
  });
  terminals.push(term);
  return {
    ...term,
    async exitCode(timeoutMs = 10_000): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await readFile(exitFile, 'utf8').catch(() => '');
        if (text.trim()) return Number(text.trim());
        if (Date.now() > deadline) assert.fail(`shoal-install did not exit; the terminal shows:\n${term.screen()}`);
        await sleep(100);
      }
    },
  };
}

async function keep(name: string, text: string) {
  await keepScreen(name, text, [join(work, `${name}.txt`), ...(UPDATE_SCREENS ? [join(SCREENS, `${name}.txt`)] : [])]);
}

/** A recipe for DISK: ESP (no mountpoint, so it plans on a kernel without vfat too) + root, from the pushed image's TAG. */
async function writeRecipe(name: string, disk: string, tag: string, host = registry.host): Promise<string> {
  const path = join(work, `${name}.json`);
  const recipe = {
    task_target: 'install-linux.target',
    target_disk: disk,
    oci_url: `${host}/os-images/debian-rootfs:${tag}`,
    partition_layout: [
      { size: '64M', type_guid: 'ef00', format: 'vfat', label: 'EFI' },
      { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
  };
  await writeFile(path, JSON.stringify(recipe));
  return path;
}

test('the console installer at 80x24 on TERM=linux: the wizard, the confirmation, the install to the end', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'disk.img'), '2G');
  const log = join(work, 'console.jsonl');
  const term = terminal('walk', ['--disk', disk, '--registry', registry.host, '--stop-before', 'bootloader-linux.service', '--log', log]);

  await keep('1-machine', await term.waitFor(/Registry\s+127\.0\.0\.1:\d+ answers \(1 repository\)/));
  assert.match(term.screen(), /\[Machine\]/);

  await term.keys('Enter');
  let s = await term.waitFor('disk.img');
  assert.match(s, /► disk\.img\s+2\.0 GiB\s+file\s+disk image file/);
  await keep('2-disk', s);

  await term.keys('Enter');
  await term.waitFor('Repositories (1)');
  await term.keys('Enter');
  s = await term.waitFor('Linux rootfs (gzip)');
  assert.match(s, /File\s+debian-12-rootfs\.tar\.gz/);
  assert.match(s, /Artifact\s+application\/vnd\.shoal\.rootfs\.tar\.gz/);
  await keep('3-image', s);

  await term.keys('Enter');
  if ((await machineFacts()).filesystems.includes('vfat')) {
    s = await term.waitFor('the planner accepts it');
    assert.match(s, /1\s+512M\s+512 MiB\s+ef00\s+vfat\s+\/boot\/efi\s+EFI/, 'this kernel mounts vfat: the default ESP at /boot/efi is accepted');
  } else {
    s = await term.waitFor('Refused by the planner:');
    assert.match(s, /this kernel cannot mount vfat \(needed for\s+\/boot\/efi\)/, 'this kernel has no vfat: /boot/efi is refused');
    await keep('4-layout-refused', s);
    // Edit the ESP: no mountpoint (the boot loader step is left out here anyway).
    await term.keys('Enter');
    await term.waitFor('Edit partition 1');
    await keep('4-layout-edit', term.screen());
    await term.keys('Down', 'Down', 'Down', 'Down', 'C-u', 'Enter');
    s = await term.waitFor('the planner accepts it');
    assert.match(s, /1\s+512M\s+512 MiB\s+ef00\s+vfat\s+-\s+EFI/);
  }
  await keep('4-layout', s);

  await term.keys('n');
  await term.waitFor('Settings for the installed Linux system');
  await term.type('tmux-host');
  await term.keys('Down');
  await term.type(SSH_KEY);
  s = await term.waitFor('User-data: cloud-config with this SSH key');
  await keep('5-settings', s);

  await term.keys('Enter');
  s = await term.waitFor('WILL BE DESTROYED');
  assert.match(s, /Erase disk\.img \(2\.0 GiB\) and install Linux\./);
  assert.match(s, /Type the disk's name \(disk\.img\) to erase it and install:/);
  await keep('6-review', s);

  await term.type('sda');
  await term.keys('Enter');
  s = await term.waitFor('Refused: "sda" is not this disk\'s name (disk.img). Nothing was written.');
  assert.equal(sh(`blkid -p ${disk} || true`).trim(), '', 'nothing was written');
  await keep('6-review-refused', s);

  await term.type('disk.img');
  await term.keys('Enter');
  // Watch the bar move: keep a frame from the middle of the download (about a second on a fast machine).
  const middle = await term.catchFrame(
    'a progress bar part of the way',
    (now) => /image-linux\.service/.test(now) && /█+░+\s+([1-9]\d?)%/.test(now) && /MiB\/s\s+ETA \d\d:\d\d/.test(now),
  );
  assert.match(middle, /\d+(\.\d)? (KiB|MiB) of 160 MiB/);
  await keep('7-install', middle);
  await term.keys('l');
  await keep('7-install-log', await term.waitFor('Full log'));
  await term.keys('Escape');

  s = await term.waitFor('Installed Linux onto disk.img', { timeoutMs: 120_000 });
  assert.match(s, /√ partition\.service/);
  assert.match(s, /√ image-linux\.service/);
  assert.match(s, /√ config-drive\.service/);
  assert.match(s, /- bootloader-linux\.service\s+skipped/);
  assert.match(s, /sha256:[0-9a-f]{64}/);
  await keep('8-done', s);
  assert.equal(loopsOf(disk), '', 'the loop device was released');

  const events = (await readFile(log, 'utf8')).trim().split('\n').map(parseEventLine);
  assert.deepEqual(
    events.filter((e) => 'problem' in e),
    [],
    'every line of the log is an event of the stream',
  );
  const last = events.at(-1);
  assert.ok(last && 'event' in last && last.event.type === 'result' && last.event.result.ok, 'the log ends with a successful result');
  assert.ok(!(await readFile(log, 'utf8')).includes('AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly'), 'user-data is not in the log');
  assert.match(sh(`blkid -p -o export ${disk} || true`), /^PTTYPE=gpt$/m, 'the disk has its new GPT');

  await term.keys('s');
  assert.equal(await term.exitCode(), 10, 'asking for a shell exits with 10');
});

test('--recipe opens at Review; a failing step shows the error and the hint; retry; then a shell', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'disk2.img'), '1G');
  const recipe = await writeRecipe('missing-image', disk, 'no-such-tag');
  const term = terminal('recipe', ['--recipe', recipe, '--stop-before', 'bootloader-linux.service', '--log', join(work, 'recipe.jsonl')]);
  let s = await term.waitFor('WILL BE DESTROYED');
  assert.match(s, /\[Review\]/);
  await term.type('disk2.img');
  await term.keys('Enter');
  s = await term.waitFor('The install failed at image-linux.service', { timeoutMs: 60_000 });
  assert.match(s, /no-such-tag/);
  await keep('9-failed', s);
  await term.keys('r');
  await term.waitFor('Run the same plan again?');
  await term.keys('y');
  await term.waitFor('The install failed at image-linux.service', { timeoutMs: 60_000 });
  await term.keys('s');
  assert.equal(await term.exitCode(), 10);
  assert.equal(loopsOf(disk), '');
});

/**
 * A serial console gets only the lines that changed, and its frame stays off the last column. After each move the
 * screen must hold one whole frame (79 columns, both borders on every line) and nothing of the screen before it.
 */
function assertWholeSerialFrame(s: string, gone: string[]) {
  const lines = s.split('\n');
  const borders = lines.flatMap((l, i) => (/^\+-{77}\+$/.test(l) ? [i] : []));
  const [top = -1, bottom = -1] = [borders[0], borders.at(-1)];
  assert.ok(top >= 0 && bottom > top, `the frame's borders, 79 columns wide:\n${s}`);
  for (const l of lines.slice(top + 1, bottom)) assert.match(l, /^\|.{77}\|$/, `every line of the box has both borders:\n${s}`);
  for (const l of lines) assert.ok([...l].length <= 79, `nothing is drawn in the last column:\n${s}`);
  for (const text of gone) assert.ok(!s.includes(text), `"${text}" was left over from the screen before:\n${s}`);
}

test('on a serial line (TERM=vt220), drawn changed lines only: walking back and forth leaves whole screens', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'disk-serial.img'), '1G');
  const recipe = await writeRecipe('serial', disk, '12');
  const term = terminal('serial', ['--recipe', recipe, '--stop-before', 'bootloader-linux.service', '--log', join(work, 'serial.jsonl')], 'vt220');
  let s = await term.waitFor('WILL BE DESTROYED');
  assertWholeSerialFrame(s, []);
  await term.keys('Escape');
  s = await term.waitFor('Settings for the installed Linux system');
  assertWholeSerialFrame(s, ['WILL BE DESTROYED']);
  await term.keys('Escape');
  s = await term.waitFor('Presets');
  assertWholeSerialFrame(s, ['Settings for the installed Linux system']);
  await term.keys('Escape');
  s = await term.waitFor('Linux rootfs (gzip)');
  assertWholeSerialFrame(s, ['Presets']);
  await term.keys('Enter');
  s = await term.waitFor('the planner accepts it');
  assertWholeSerialFrame(s, ['Linux rootfs (gzip)']);
  await term.keys('n');
  await term.waitFor('Settings for the installed Linux system');
  await term.keys('Enter');
  s = await term.waitFor('WILL BE DESTROYED');
  assertWholeSerialFrame(s, ['Settings for the installed Linux system', 'Presets']);
  await term.type('disk-serial.img');
  await term.keys('Enter');
  s = await term.waitFor('Installed Linux onto disk-serial.img', { timeoutMs: 120_000 });
  assertWholeSerialFrame(s, ['WILL BE DESTROYED', 'Installing Linux onto']);
  assert.match(s, /\+ image-linux\.service/);
  await term.keys('s');
  assert.equal(await term.exitCode(), 10);
  assert.equal(loopsOf(disk), '');
});

test('SIGTERM during the install (systemd stopping the unit): meanwhile the console holds the disk; the runner aborts and cleans up, exit 130', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'disk3.img'), '1G');
  // The pull is held open, so the signal lands mid-install however fast this machine unpacks.
  const hold = await holdBlob(registry, rootfsDigest);
  t.after(async () => {
    hold.release();
    await hold.close();
  });
  const recipe = await writeRecipe('sigterm', disk, '12', hold.host);
  const term = terminal('sigterm', ['--recipe', recipe, '--stop-before', 'bootloader-linux.service', '--log', join(work, 'sigterm.jsonl')]);
  await term.waitFor('WILL BE DESTROYED');
  await term.type('disk3.img');
  await term.keys('Enter');
  await term.waitFor('Installing Linux onto disk3.img');
  await hold.reached;
  const shell = tmux('display-message', '-p', '-t', term.session, '#{pane_pid}').trim();
  const node = Number(sh(`pgrep -P ${shell} node`).trim());
  const pipeline = await whenRunning(node, 'tar');
  // The console holds the disk: an install from the command line is refused and names it.
  const second = await runCli([
    'install',
    '--recipe',
    await writeRecipe('sigterm-second', disk, '12'),
    '--yes',
    '--stop-before',
    'bootloader-linux.service',
    '--log',
    join(work, 'second.jsonl'),
  ]);
  assert.equal(second.code, 3, second.stderr);
  assert.match(second.stderr, new RegExp(`another install holds ${disk}: process ${node} `));
  process.kill(node, 'SIGTERM');
  assert.equal(await term.exitCode(30_000), 130);
  assert.equal(loopsOf(disk), '', 'the loop device was detached');
  const log = await readFile(join(work, 'sigterm.jsonl'), 'utf8');
  const mounts = await readFile('/proc/mounts', 'utf8');
  for (const dir of new Set(log.match(/\/run\/shoal-install\/target-\w+/g) ?? [])) assert.ok(!mounts.includes(dir), `${dir} was unmounted`);
  assert.deepEqual(alive(pipeline), [], 'tar and the decompressor were stopped');
  assert.match(log, /"type":"result"/);
  assert.match(log, /SIGTERM|aborted/);
});

test('without a terminal the console refuses with a clear message', async (t) => {
  if (!skipUnless(t, [])) return;
  let out = '';
  let code = 0;
  try {
    execFileSync('node', [BUNDLE], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { status: number; stderr: string };
    code = err.status;
    out = err.stderr;
  }
  assert.equal(code, 2);
  assert.match(out, /the console installer needs a terminal, and stdin or stdout is not one/);
});
