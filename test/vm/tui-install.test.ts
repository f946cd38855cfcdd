/**
 * A technician installs the Shoal example Linux image through the console installer on a serial line, inside the
 * maintenance VM; the installed disk then boots alone under OVMF.
 *
 * The maintenance VM is the one of install-boot.test.ts (same disk, units, registry and fixture), booted without
 * `shoal.auto` and with `systemd.wants=shoal-install-serial@ttyS1.service`, as the unit's own comment documents.
 * ttyS0 keeps the kernel console (streamed and logged as usual); ttyS1 is the technician's terminal, through tmux
 * on the host (lib/serial-line.ts), as in test/integration/tui-tmux.test.ts. A drop-in (the test's overlay, not the shipped unit) points the installer at
 * the test registry: `--registry 10.0.2.2:PORT --plain-http 10.0.2.2:PORT`.
 *
 * The walk: Machine -> Disk (/dev/vdb, the blank 4 GiB disk) -> Image (os-images/debian-rootfs:12 from the registry)
 * -> Layout (preset "EFI + cidata + root") -> Settings (hostname, a user-data file in the maintenance OS, kernel args)
 * -> Review (type "vdb") -> Install -> Done -> power off. Then the disk boots with the same VARS: the firmware takes
 * the "debian" entry, GRUB and the kernel run with the kernel args typed in Settings, cloud-init prints the marker
 * with the host name typed in Settings, and powers off.
 *
 * SHOAL_KEEP_VM_WORK=1 keeps the work directory (serial logs, screens, disks) even when the test passes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { missingPrerequisite } from '../helpers/env.ts';
import { progress } from './lib/log.ts';
import { attachSerialTerminal, serialDropIn, serialLineArgs, SERIAL_TTY, type SerialTerminal } from './lib/serial-line.ts';
import { MAINT_KERNEL_ARGS } from './lib/maint-root.ts';
import { freshOvmfVars, OVMF_CODE, OVMF_VARS_TEMPLATE, QEMU, runVm, startVm, type VmResult } from './lib/qemu.ts';
import {
  blankDisk,
  buildBundle,
  buildCaches,
  assertCompleteInstallLog,
  assertFirstBoot,
  POWER_DOWN,
  IMAGE_REPO,
  IMAGE_TAG,
  makeInstallerDisk,
  Phases,
  serialClock,
  smbiosSerial,
  startServices,
  targetBootVmOptions,
  varsHaveEntry,
  type Services,
} from './lib/scenario.ts';

const TOOLS = [QEMU, 'tmux', 'debootstrap', 'mkfs.ext4', 'zstd', 'docker-registry', 'skopeo'];

function whySkip(): string | undefined {
  for (const file of [OVMF_CODE, OVMF_VARS_TEMPLATE]) if (!existsSync(file)) return `${file} missing: apt-get install ovmf`;
  return missingPrerequisite(TOOLS);
}
const skip = whySkip();
if (skip) process.stderr.write(`\n*** SKIPPING the console-install VM test: ${skip} ***\n\n`);

const TTY = SERIAL_TTY;
const SERIAL = 'VMTEST-TUI1';
const HOSTNAME = 'shoal-tui-test';
const KERNEL_ARGS = 'shoal.tui=1';
const MARKER = `SHOAL-TUI-FIRSTBOOT-OK host=${HOSTNAME}`;
/** A user-data file in the maintenance OS, as a technician would pick from the task ISO. */
const GUEST_USER_DATA = '/root/tui-user-data.yaml';
const USER_DATA = `#cloud-config
runcmd:
  - [ sh, -c, 'echo SHOAL-TUI-FIRSTBOOT-OK host=$(hostname) > /dev/ttyS0' ]
power_state:
  mode: poweroff
  message: shoal tui vm test done
`;

/** How long a screen may stand still before waitFor presses its `nudge` keys; and what it pressed. */
const STALL_MS = 10_000;
const stalls: string[] = [];

/** Rejects after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('console install on a serial line: a technician walks the wizard in the maintenance VM, the disk then boots', { skip, timeout: 30 * 60_000 }, async (t) => {
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

  const { fixture, maintBase } = await phases.run('caches (fixture rootfs, maintenance root)', buildCaches);
  const bundle = await phases.run('bundle (scripts/build.mjs)', buildBundle);
  const svc = (services = await phases.run('registry + push fixture', () => startServices(fixture)));
  const reg = svc.registryGuestHost;
  progress(`registry ${svc.registry.url}, the guest browses ${reg}`);
  // The shipped unit runs `shoal-install` bare; the drop-in names the test registry (plain HTTP, not loopback to the guest).
  const dropIn = serialDropIn('shoal-install-serial', ['ExecStart=', `ExecStart=/usr/local/bin/shoal-install --registry ${reg} --plain-http ${reg}`]);
  const disk = await phases.run('maintenance disk (mkfs.ext4 -d)', () =>
    makeInstallerDisk(maintBase, bundle, join(work, 'maint.img'), {
      [`/etc/systemd/system/shoal-install-serial@${TTY}.service.d/test-registry.conf`]: dropIn,
      [GUEST_USER_DATA]: USER_DATA,
    }),
  );
  const target = await blankDisk(join(work, 'target.img'));
  const vars = await freshOvmfVars(work, 'vars.fd');
  const socket = join(work, 'tui.sock');

  let installed = false;
  await t.test('the console installer on ttyS1: Machine, Disk, Image, Layout, Settings, Review, Install, Done, power off', async () => {
    const clock = serialClock({ kernel: /Linux version/, 'installer unit': /Started shoal-install-seri.*on ttyS1/, 'power down': POWER_DOWN });
    const vm = startVm({
      name: 'tui-install',
      kernel: disk.kernel,
      initrd: disk.initrd,
      // No shoal.auto: the console installers start. The serial one as the unit's comment says, its size given.
      append: `${MAINT_KERNEL_ARGS} systemd.wants=shoal-install-serial@${TTY}.service systemd.tty.rows.${TTY}=24 systemd.tty.columns.${TTY}=80`,
      disks: [{ path: disk.image, format: 'raw' }, { path: target, format: 'raw' }],
      ovmfVars: vars,
      timeoutMs: 20 * 60_000,
      serialLog: join(work, 'serial-install.log'),
      onLine: (l) => (clock.onLine(l), progress(`install| ${l}`)),
      extraArgs: [...serialLineArgs(socket), ...smbiosSerial(SERIAL)],
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
      await phases.run('VM 1: boot to the console installer', async () => {
        const s = await tt.keep('machine', await tt.waitFor(/Registry\s+10\.0\.2\.2:\d+ answers/, { timeoutMs: 5 * 60_000 }));
        assert.match(s, /\[Machine\]/);
        assert.match(s, new RegExp(SERIAL), 'the DMI serial on the Machine screen');
      });

      await phases.run('VM 1: the wizard', async () => {
        await tt.keys('Enter');
        await tt.waitFor(/\bvdb\b/);
        let s = await tt.pointAt(/^vdb\s/);
        assert.match(s, /> vdb\s+4\.0 GiB/, 'the blank 4 GiB disk');
        assert.match(s, /vda\b.*boot medium/, 'the maintenance root is the boot medium');
        await tt.keep('disk', s);

        await tt.keys('Enter');
        s = await tt.waitFor(/Repositories \(1\)/);
        assert.match(s, new RegExp(IMAGE_REPO));
        await tt.keep('image-repos', s);
        await tt.keys('Enter');
        s = await tt.waitFor(/Linux rootfs/, { timeoutMs: 60_000, nudge: ['Down'] });
        assert.match(s, new RegExp(`\\b${IMAGE_TAG}\\b`));
        assert.match(s, /application\/vnd\.shoal\.rootfs\.tar\.zst/);
        await tt.keep('image', s);

        await tt.keys('Enter');
        s = await tt.waitFor('Presets');
        await tt.keep('layout-default', s);
        await tt.keys('Tab');
        await sleep(300);
        s = await tt.pointAt(/^EFI \+ cidata \+ root\b/);
        await tt.keys('Enter');
        s = await tt.waitFor(/EFI \+ cidata \+ root\s+\(in use\)/);
        s = await tt.waitFor('the planner accepts it', { timeoutMs: 60_000, nudge: ['Down'] });
        assert.match(s, /ef00\s+vfat\s+\/boot\/efi/);
        assert.match(s, /0700\s+vfat\s+-\s+cidata/);
        assert.match(s, /8300\s+ext4\s+\/\s+root/);
        await tt.keep('layout', s);

        await tt.keys('n');
        await tt.waitFor('Settings for the installed Linux system');
        await tt.type(HOSTNAME);
        await tt.keys('Down', 'Down');
        await tt.type(GUEST_USER_DATA);
        await tt.keys('Down');
        await tt.type(KERNEL_ARGS);
        s = await tt.waitFor(KERNEL_ARGS);
        assert.match(s, new RegExp(`Hostname\\s+${HOSTNAME}\\b`), `the host name field:\n${s}`);
        assert.match(s, new RegExp(`User-data file\\s+${GUEST_USER_DATA}\\b`), `the user-data file field:\n${s}`);
        assert.match(s, new RegExp(`Kernel args\\s+${KERNEL_ARGS}`), `the kernel args field:\n${s}`);
        assert.match(s, /: found, \d+ B/, 'the user-data file is found in the maintenance OS');
        assert.ok(!s.includes('SHOAL-TUI-FIRSTBOOT'), 'the user-data file content is never shown');
        await tt.keep('settings', s);

        await tt.keys('Enter');
        s = await tt.waitFor('WILL BE DESTROYED', { timeoutMs: 60_000, nudge: ['Down'] });
        assert.match(s, /\[Review\]/);
        assert.match(s, /Erase vdb \(4\.0 GiB\) and install Linux\./);
        assert.match(s, /Type the disk's name \(vdb\) to erase it and install:/);
        await tt.keep('review', s);
        await tt.type('vdb');
        await tt.keys('Enter');
      });

      await phases.run('VM 1: the install (partition, image, config drive, boot loader)', async () => {
        let s = await tt.waitFor('Installing Linux onto vdb', { timeoutMs: 60_000 });
        await tt.keep('install-start', s);
        // A frame from the middle of the download, when one shows up (the pull may also be quicker than a look).
        for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
          s = tt.screen();
          if (/\d+(\.\d)? (KiB|MiB) of \d+ MiB/.test(s)) {
            await tt.keep('install-pull', s);
            break;
          }
          if (/Installed Linux onto vdb|The install failed at/.test(s)) break;
        }
        s = await tt.waitFor(/Installed Linux onto vdb|The install failed at/, { timeoutMs: 15 * 60_000, nudge: ['l', 'Escape'] });
        assert.match(s, /Installed Linux onto vdb/, `the install finished:\n${s}`);
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

      await assertCompleteInstallLog(disk.image, work, ['SHOAL-TUI-FIRSTBOOT']);
      installed = true;
    } catch (e) {
      failed = true;
      vm.stop();
      result ??= await vm.done.catch(() => undefined);
      process.stderr.write(`\n--- console install: serial (ttyS0) tail; logs, screens and disks in ${work} ---\n${result?.serialTail(80) ?? '(no VM result)'}\n`);
      process.stderr.write(`--- the last screen on ${TTY} ---\n${term?.screen() ?? '(no terminal)'}\n---\n`);
      throw e;
    } finally {
      term?.kill();
    }
  });

  await t.test('the installed disk boots alone under OVMF: GRUB, the kernel args and the host name typed in Settings, cloud-init', { skip: !installed && 'the install failed' }, async () => {
    const clock = serialClock({ firmware: /BdsDxe/, grub: /Welcome to GRUB|GNU GRUB/, kernel: /Linux version/, marker: new RegExp(MARKER), 'power down': POWER_DOWN });
    const options = targetBootVmOptions({ name: 'firstboot', target, ovmfVars: vars, serialLog: join(work, 'serial-firstboot.log'), timeoutMs: 10 * 60_000, serial: SERIAL });
    const r = await phases.run('VM 2: first boot of the installed disk', () => runVm({ ...options, onLine: (l) => (clock.onLine(l), progress(`firstboot| ${l}`)) }));
    try {
      progress(`first boot: ${clock.describe()}`);
      assertFirstBoot(r, KERNEL_ARGS, MARKER);
    } catch (e) {
      failed = true;
      process.stderr.write(`\n--- first boot: serial tail (full log in ${work}) ---\n${r.serialTail(120)}\n---\n`);
      throw e;
    }
  });
});
