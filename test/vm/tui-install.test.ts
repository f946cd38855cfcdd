/**
 * A technician installs the Shoal example Linux image through the console installer on a serial line (a BMC's
 * serial-over-LAN), on the maintenance ISO; the installed disk then boots alone under OVMF.
 *
 * The VM boots the maintenance ISO with no task ISO. The technician's terminal is the serial line ttyS0 (tmux on
 * the host, lib/serial-line.ts): at GRUB's menu, which GRUB also draws there, the technician edits the entry
 * "Console installer on serial (ttyS0, 115200)" to name the controller's plain-HTTP registry
 * (`shoal.plain_http=10.0.2.2:PORT`) and boots it.
 *
 * The walk: Machine -> Disk (/dev/vda, the blank 4 GiB disk) -> Image (the full reference typed, from the
 * registry) -> Layout (preset "EFI + cidata + root") -> Settings (hostname, an SSH public key, kernel args) ->
 * Review (type "vda") -> Install -> Done -> power off. Then the disk boots with the same VARS: the firmware takes
 * the "debian" entry, GRUB and the kernel run with the kernel args typed in Settings, cloud-init sets the host
 * name typed in Settings and prints the typed key's fingerprint for the default user.
 *
 * SHOAL_KEEP_VM_WORK=1 keeps the work directory (serial logs, screens, disks) even when the test passes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildFixtureRootfs } from './lib/fixture-os.ts';
import { maintenanceIso } from './lib/iso.ts';
import { progress } from './lib/log.ts';
import { freshOvmfVars, runVm, startVm, type VmResult } from './lib/qemu.ts';
import {
  assertInstalledBoot,
  blankDisk,
  IMAGE_REPO,
  IMAGE_TAG,
  maintenanceVmOptions,
  Phases,
  POWER_DOWN,
  serialClock,
  startServices,
  targetBootVmOptions,
  varsHaveEntry,
  vmSkipReason,
  type Services,
} from './lib/scenario.ts';
import { attachSerialTerminal, bootGrubEntryWith, SERIAL_TTY, type SerialTerminal } from './lib/serial-line.ts';

const skip = vmSkipReason(['tmux']);
if (skip) process.stderr.write(`\n*** SKIPPING the console-install VM test: ${skip} ***\n\n`);

const SERIAL_ENTRY = 'Console installer on serial (ttyS0, 115200)';
const SERIAL = 'VMTEST-TUI1';
const HOSTNAME = 'shoal-tui-test';
const KERNEL_ARGS = 'shoal.tui=1';
const KEY_COMMENT = 'technician@shoal-vm-test';

/** An OpenSSH ed25519 public key line (a random one: nothing logs in with it) and its fingerprint as cloud-init prints it. */
function sshKey(): { line: string; fingerprint: string } {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(randomBytes(32))]);
  const hex = createHash('sha256').update(blob).digest('hex');
  return { line: `ssh-ed25519 ${blob.toString('base64')} ${KEY_COMMENT}`, fingerprint: hex.match(/../g)!.join(':') };
}

/** How long a screen may stand still before waitFor presses its `nudge` keys; and what it pressed. */
const STALL_MS = 10_000;
const stalls: string[] = [];

/** Rejects after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test("console install on a serial line: a technician boots the ISO's serial entry, walks the wizard, the disk then boots", { skip, timeout: 40 * 60_000 }, async (t) => {
  const phases = new Phases();
  const work = await mkdtemp(join(tmpdir(), 'shoal-tui-install-'));
  progress(`work directory: ${work}`);
  let services: Services | undefined;
  let term: SerialTerminal | undefined;
  let failed = false;
  t.after(async () => {
    term?.kill();
    await services?.stop();
    progress(`phase durations:\n${phases.table()}`);
    if (stalls.length) progress(`WARNING: the serial console stood still and was nudged ${stalls.length} time(s): ${stalls.join('; ')}`);
    if (failed || process.env.SHOAL_KEEP_VM_WORK === '1') progress(`kept ${work} (serial logs, screens, disks, VARS) for inspection`);
    else await rm(work, { recursive: true, force: true });
  });

  const fixture = await phases.run('fixture OS (cached)', buildFixtureRootfs);
  const iso = await phases.run('maintenance ISO (cached by its inputs)', () => maintenanceIso());
  const svc = (services = await phases.run('registry + push fixture', () => startServices(fixture)));
  const reg = svc.registryGuestHost;
  const image = svc.imageRef();
  progress(`ISO ${iso}; registry ${svc.registry.url}, the guest pulls ${image}`);
  const target = await blankDisk(join(work, 'target.img'));
  const vars = await freshOvmfVars(work, 'vars.fd');
  const socket = join(work, 'serial.sock');
  const key = sshKey();

  let installed = false;
  await t.test(`GRUB's serial entry, then the console installer on ${SERIAL_TTY}: Machine, Disk, Image, Layout, Settings, Review, Install, Done, power off`, async () => {
    const clock = serialClock({ kernel: /Linux version/, 'installer unit': /shoal-install-seri.*ttyS0/, 'power down': POWER_DOWN });
    let cmdline: string | undefined;
    const vm = startVm({
      ...maintenanceVmOptions({
        name: 'tui-install',
        iso,
        target,
        ovmfVars: vars,
        serial: SERIAL,
        serialLog: join(work, 'serial-install.log'),
        timeoutMs: 25 * 60_000,
        serialSocket: socket,
      }),
      onLine: (l) => {
        clock.onLine(l);
        cmdline ??= /Kernel command line: (.*)$/.exec(l)?.[1];
      },
    });
    let result: VmResult | undefined;
    try {
      term = await attachSerialTerminal(`shoal-tui-vm-${process.pid}`, socket, work, {
        ms: STALL_MS,
        // Seen once in six runs: the console's last frame never reached the line and nothing else redraws
        // (see the report). Keys that change nothing the walk relies on make it draw again; each use is counted.
        report(what, keys) {
          stalls.push(`${what}: pressed ${keys.join(' ')}`);
          progress(`serial console stood still ${STALL_MS / 1000} s waiting for ${what}: pressing ${keys.join(' ')} to make it redraw`);
        },
      });
      const tt = term;
      await phases.run('VM 1: power-on to GRUB, edit and boot the serial entry', async () => {
        const edited = await bootGrubEntryWith(tt, SERIAL_ENTRY, `shoal.plain_http=${reg}`);
        await tt.keep('grub-edit', edited);
      });
      await phases.run('VM 1: boot to the console installer', async () => {
        const s = await tt.keep('machine', await tt.waitFor(new RegExp(SERIAL), { timeoutMs: 8 * 60_000 }));
        assert.match(s, /\[Machine\]/, 'the DMI serial on the Machine screen');
        assert.ok(cmdline?.split(/\s+/).includes(`shoal.plain_http=${reg}`), `the word typed at GRUB reached the kernel: ${cmdline}`);
      });

      await phases.run('VM 1: the wizard', async () => {
        await tt.keys('Enter');
        await tt.waitFor(/\bvda\b/);
        let s = await tt.pointAt(/^vda\s/);
        assert.match(s, /> vda\s+4\.0 GiB/, 'the blank 4 GiB disk');
        await tt.keep('disk', s);

        await tt.keys('Enter');
        // No registry is set on a console boot: the technician types the image's full reference.
        await tt.waitFor(/Image reference/);
        await tt.type(image);
        await tt.keys('Enter');
        s = await tt.waitFor(/Linux rootfs/, { timeoutMs: 60_000, nudge: ['End'] });
        assert.match(s, new RegExp(`${IMAGE_REPO}:${IMAGE_TAG}`));
        assert.match(s, /application\/vnd\.shoal\.rootfs\.tar\.zst/);
        await tt.keep('image', s);

        await tt.keys('Enter');
        s = await tt.waitFor('Presets');
        await tt.keep('layout-default', s);
        await tt.keys('Tab');
        await sleep(300);
        await tt.pointAt(/^EFI \+ cidata \+ root\b/);
        await tt.keys('Enter');
        await tt.waitFor(/EFI \+ cidata \+ root\s+\(in use\)/);
        s = await tt.waitFor('the planner accepts it', { timeoutMs: 60_000, nudge: ['Down'] });
        assert.match(s, /ef00\s+vfat\s+\/boot\/efi/);
        assert.match(s, /0700\s+vfat\s+-\s+cidata/);
        assert.match(s, /8300\s+ext4\s+\/\s+root/);
        await tt.keep('layout', s);

        await tt.keys('n');
        await tt.waitFor('Settings for the installed Linux system');
        await tt.type(HOSTNAME);
        // As a technician does, type once the cursor shows in the next field: a slow console draws the move late.
        await tt.keys('Down');
        await tt.waitFor(/> SSH public key/);
        await tt.type(key.line);
        await tt.keys('Down', 'Down');
        await tt.waitFor(/> Kernel args/);
        await tt.type(KERNEL_ARGS);
        s = await tt.waitFor(KERNEL_ARGS);
        assert.match(s, new RegExp(`Hostname\\s+${HOSTNAME}\\b`), `the host name field:\n${s}`);
        assert.match(s, /User-data: cloud-config with this SSH key/, `the key becomes the user-data:\n${s}`);
        assert.match(s, new RegExp(`Kernel args\\s+${KERNEL_ARGS}`), `the kernel args field:\n${s}`);
        await tt.keep('settings', s);

        await tt.keys('Enter');
        s = await tt.waitFor('WILL BE DESTROYED', { timeoutMs: 60_000, nudge: ['Down'] });
        assert.match(s, /\[Review\]/);
        assert.match(s, /Erase vda \(4\.0 GiB\) and install Linux\./);
        assert.match(s, /Type the disk's name \(vda\) to erase it and install:/);
        await tt.keep('review', s);
        await tt.type('vda');
        await tt.keys('Enter');
      });

      await phases.run('VM 1: the install (partition, image, config drive, boot loader)', async () => {
        let s = await tt.waitFor('Installing Linux onto vda', { timeoutMs: 60_000 });
        await tt.keep('install-start', s);
        // A frame from the middle of the download, when one shows up (the pull may also be quicker than a look).
        for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
          s = tt.screen();
          if (/\d+(\.\d)? (KiB|MiB) of \d+ MiB/.test(s)) {
            await tt.keep('install-pull', s);
            break;
          }
          if (/Installed Linux onto vda|The install failed at/.test(s)) break;
        }
        s = await tt.waitFor(/Installed Linux onto vda|The install failed at/, { timeoutMs: 15 * 60_000, nudge: ['l', 'Escape'] });
        assert.match(s, /Installed Linux onto vda/, `the install finished:\n${s}`);
        for (const step of ['partition', 'image-linux', 'config-drive', 'bootloader-linux']) assert.match(s, new RegExp(`\\+ ${step}\\.service`), `${step}.service done:\n${s}`);
        assert.match(s, /sha256:[0-9a-f]{64}/);
        await tt.keep('done', s);
      });

      await tt.keys('p');
      await tt.keep('poweroff-confirm', await tt.waitFor('Power off now?'));
      await tt.keys('y');
      result = await phases.run('VM 1: power off', () => within(vm.done, 3 * 60_000, 'the maintenance VM powering off'));
      progress(`install VM: ${clock.describe()}`);
      assert.equal(result.timedOut, false, 'the install VM timed out');
      assert.ok(result.poweredOff, `qemu exited on its own (exit ${result.exitCode}, stderr: ${result.qemuStderr.trim()})`);
      assert.match(result.serial, POWER_DOWN, 'the guest powered off (kernel: reboot: Power down)');
      assert.doesNotMatch(result.serial, /^\[FAILED\].*shoal-install/m, 'no installer unit failed');
      assert.ok(await varsHaveEntry(vars, 'debian'), 'efibootmgr wrote a "debian" Boot#### entry into the NVRAM (VARS file)');
      installed = true;
    } catch (e) {
      failed = true;
      vm.stop();
      result ??= await vm.done.catch(() => undefined);
      process.stderr.write(`\n--- console install: serial (${SERIAL_TTY}) tail; logs, screens and disks in ${work} ---\n${result?.serialTail(80) ?? '(no VM result)'}\n`);
      process.stderr.write(`--- the last screen on ${SERIAL_TTY} ---\n${term?.screen() ?? '(no terminal)'}\n---\n`);
      throw e;
    } finally {
      term?.kill();
    }
  });

  await t.test(
    'the installed disk boots alone under OVMF: GRUB, the kernel args, the host name and the SSH key typed in Settings',
    { skip: !installed && 'the install failed' },
    async () => {
      const loginPrompt = new RegExp(`^${HOSTNAME} login:`, 'm');
      const finished = /Cloud-init v\. \S+ finished at/;
      const clock = serialClock({ firmware: /BdsDxe/, grub: /Welcome to GRUB|GNU GRUB/, kernel: /Linux version/, 'cloud-init finished': finished, login: loginPrompt });
      const options = targetBootVmOptions({ name: 'firstboot', target, ovmfVars: vars, serialLog: join(work, 'serial-firstboot.log'), timeoutMs: 10 * 60_000, serial: SERIAL });
      const r = await phases.run('VM 2: first boot of the installed disk', () =>
        runVm({ ...options, onLine: (l) => (clock.onLine(l), progress(`firstboot| ${l}`)), expect: (s) => finished.test(s) && loginPrompt.test(s), stopOnExpect: true }),
      );
      try {
        progress(`first boot: ${clock.describe()}`);
        assert.ok(r.matched, 'cloud-init finished and the login prompt showed');
        assertInstalledBoot(r, KERNEL_ARGS);
        assert.match(r.serial, loginPrompt, `cloud-init set the host name typed in Settings: ${HOSTNAME}`);
        assert.match(r.serial, /ci-info: .*Authorized keys from \S+ for user debian/, 'cloud-init installed an SSH key for the default user');
        assert.ok(r.serial.includes(key.fingerprint), `the key typed in Settings (sha256 ${key.fingerprint})`);
        assert.ok(r.serial.includes(KEY_COMMENT));
      } catch (e) {
        failed = true;
        process.stderr.write(`\n--- first boot: serial tail (full log in ${work}) ---\n${r.serialTail(120)}\n---\n`);
        throw e;
      }
    },
  );
});
