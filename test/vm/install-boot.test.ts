/**
 * The product's proof, the Shoal way: a server (qemu, OVMF) boots the maintenance ISO from a virtual CD with the
 * job's task ISO on a second one and a blank disk, and nobody sets a kernel argument. The boot finds the task ISO,
 * auto mode takes the webhook, its secret and shoal.poweroff from the task ISO (shoal.conf, webhook_secret),
 * installs the Debian fixture from a real OCI registry, reports `success` and powers off. The installed disk then
 * boots alone under OVMF (with the NVRAM entry the install wrote, and by the removable-media fallback) and
 * cloud-init applies the recipe's user-data. Plus the failure path: a missing image tag is reported as
 * `image-linux.service`, summarised on the console, and the machine stays up.
 *
 * The serial line carries the kernel console (the ISO's default entry mirrors it to ttyS0), where auto mode
 * prints its plain progress lines. What a technician sees on tty1 (the watch screen) is read from VGA screendumps
 * through the qemu monitor, by OCR (lib/screen.ts).
 *
 * SHOAL_KEEP_VM_WORK=1 keeps the work directory (serial logs, screens, disks) even when the test passes.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildFixtureRootfs } from './lib/fixture-os.ts';
import { maintenanceIso } from './lib/iso.ts';
import { progress } from './lib/log.ts';
import { freshOvmfVars, runVm, startVm, type Vm, type VmResult } from './lib/qemu.ts';
import {
  assertFirstBoot,
  blankDisk,
  FIRSTBOOT_MARKER,
  jobConf,
  linuxRecipe,
  maintenanceVmOptions,
  makeJobIso,
  newWebhookSecret,
  Phases,
  POWER_DOWN,
  RECIPE_KERNEL_ARGS,
  serialClock,
  startServices,
  TARGET_HOSTNAME,
  targetBootVmOptions,
  varsHaveEntry,
  vmSkipReason,
  type Services,
} from './lib/scenario.ts';
import { firstShowing, ScreenRecorder, waitForScreen } from './lib/screen.ts';
import type { ReceivedRequest } from './lib/webhook-receiver.ts';

const skip = vmSkipReason(['tesseract', 'pngtopnm']);
if (skip) process.stderr.write(`\n*** SKIPPING the install-and-boot VM test: ${skip} ***\n\n`);

const SERIAL_OK = 'VMTEST-0001';
const SERIAL_FAIL = 'VMTEST-0002';
const MISSING_TAG = 'no-such-tag';
const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The watch screen's heading on tty1 (tui/watch.tsx). */
const WATCHING = /Watching the automatic install/i;

let vmFailures = 0;

/**
 * What the installer wrote to the console, without the `[  12.345] shoal-install[PID]: ` that journald's console
 * forwarding (StandardOutput=journal+console) puts in front of each line. A getty prompt may share the line.
 */
function installerConsole(serial: string): string {
  return serial
    .split('\n')
    .map((l) => /shoal-install\[\d+\]: (.*)$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined)
    .join('\n');
}

/** The maintenance OS's kernel command line: the ISO's GRUB entry, nothing from the test. */
function maintenanceCmdline(serial: string): string {
  return /Kernel command line: (.*)$/m.exec(serial)?.[1] ?? '';
}

/** Runs a VM; on any failure in `check` prints the serial tail and where the files are, then rethrows. */
async function withSerialTail<T>(what: string, where: string, run: () => Promise<VmResult>, check: (r: VmResult) => Promise<T> | T): Promise<T> {
  let result: VmResult | undefined;
  try {
    result = await run();
    return await check(result);
  } catch (e) {
    vmFailures++;
    process.stderr.write(`\n--- ${what}: serial tail (full log, screens and disks in ${where}) ---\n${result?.serialTail(150) ?? '(no VM result)'}\n---\n`);
    throw e;
  }
}

function assertWebhook(r: ReceivedRequest, serial: string, secret: string) {
  assert.equal(r.method, 'POST');
  assert.equal(r.path, `/api/v1/status-webhook/${serial}`);
  assert.equal(r.headers['x-webhook-secret'], secret, 'X-Webhook-Secret from the task ISO');
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(r.status, 200);
  const body = r.body as Record<string, unknown>;
  assert.ok(body && typeof body === 'object', `JSON body: ${r.text}`);
  assert.match(String(body.delivery_id), UUID, 'delivery_id');
  assert.equal(body.task_target, 'install-linux.target');
  assert.match(String(body.started_at), ISO_8601, 'started_at');
  assert.match(String(body.finished_at), ISO_8601, 'finished_at');
  assert.ok(Date.parse(String(body.started_at)) <= Date.parse(String(body.finished_at)), 'started_at <= finished_at');
  assert.equal(typeof body.dispatcher_version, 'string');
  // Never a secret or user-data in the payload.
  assert.ok(!r.text.includes(secret), 'the secret is not in the body');
  for (const leak of ['cloud-config', 'SHOAL-FIRSTBOOT', 'user_data', 'runcmd']) assert.ok(!r.text.includes(leak), `no user-data in the body (${leak})`);
  return body;
}

/** Auto mode found the job with no kernel argument: its settings came from the task ISO's shoal.conf. */
function assertJobSettings(serial: string, out: string) {
  const cmdline = maintenanceCmdline(serial);
  assert.ok(cmdline, 'the maintenance kernel printed its command line');
  assert.doesNotMatch(cmdline, /\bshoal\./, `no shoal.* kernel argument: ${cmdline}`);
  assert.match(serial, /shoal-install boot: auto mode: recipe\.json on the task ISO on \/dev\/sr1\b/, 'the boot found the task ISO on the second CD');
  assert.match(out, /shoal\.auto is not set: auto mode runs because the boot found a task ISO/);
  for (const key of ['webhook', 'plain_http', 'poweroff']) assert.match(out, new RegExp(`^\\s*shoal\\.${key}\\b.* from the task ISO's shoal\\.conf$`, 'm'), `shoal.${key} from shoal.conf`);
}

/** The first and last MiB of a disk image are still zero: nothing was written to it. */
async function untouched(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(2 ** 20);
    for (const at of [0, size - buf.length]) {
      await fh.read(buf, 0, buf.length, at);
      if (buf.some((b) => b !== 0)) return false;
    }
    return true;
  } finally {
    await fh.close();
  }
}

test('install and boot: a Shoal job on the maintenance ISO installs Debian from an OCI registry, the disk boots under OVMF and cloud-init runs', { skip, timeout: 90 * 60_000 }, async (t) => {
  const phases = new Phases();
  const work = await mkdtemp(join(tmpdir(), 'shoal-install-boot-'));
  progress(`work directory: ${work}`);
  let services: Services | undefined;
  const running = new Set<Vm>();
  t.after(async () => {
    for (const vm of running) vm.stop();
    await services?.stop();
    progress(`phase durations:\n${phases.table()}`);
    if (vmFailures > 0 || process.env.SHOAL_KEEP_VM_WORK === '1') progress(`kept ${work} (serial logs, screens, disks, VARS) for inspection`);
    else await rm(work, { recursive: true, force: true });
  });

  const fixture = await phases.run('fixture OS (cached)', buildFixtureRootfs);
  const iso = await phases.run('maintenance ISO (cached by its inputs)', () => maintenanceIso());
  const svc = (services = await phases.run('registry + push fixture', () => startServices(fixture)));
  progress(`ISO ${iso}; registry ${svc.registry.url}, image ${svc.imageRef()} (${svc.pushed.size >> 20} MiB), webhook ${svc.receiver.url}`);

  const target = await blankDisk(join(work, 'target.img'));
  const vars = await freshOvmfVars(work, 'vars-install.fd');
  const secret = newWebhookSecret();
  const conf = jobConf(svc.receiver.guestUrl, svc.registryGuestHost, { poweroff: true });
  let installed = false;
  let firstBooted = false;

  await t.test('the ISO boots, finds the task ISO, installs onto the blank disk, reports success to the webhook and powers off', async () => {
    const task = await makeJobIso(linuxRecipe(svc.imageRef()), secret, conf, join(work, 'task-ok.iso'));
    const clock = serialClock({
      kernel: /Linux version \d/,
      'installer started': /shoal-install auto \d{4}-/,
      'partition.service': /==> partition\.service/,
      'image-linux.service': /==> image-linux\.service/,
      'config-drive.service': /==> config-drive\.service/,
      'bootloader-linux.service': /==> bootloader-linux\.service/,
      'install finished': /Install finished: powering off/,
      'power down': POWER_DOWN,
    });
    let tty1: ScreenRecorder | undefined;
    const install = async () => {
      const vm = startVm({
        ...maintenanceVmOptions({ name: 'install', iso, task, target, ovmfVars: vars, serial: SERIAL_OK, serialLog: join(work, 'serial-install.log'), timeoutMs: 35 * 60_000 }),
        // tty1 is looked at while the image step runs: its progress bar is what a technician watches.
        onLine: (l) => {
          clock.onLine(l);
          progress(`install| ${l}`);
          if (/==> image-linux\.service/.test(l)) tty1?.start();
          if (/<== image-linux\.service/.test(l)) void tty1?.stop();
        },
      });
      running.add(vm);
      tty1 = new ScreenRecorder(vm, work, 'tty1-install');
      const r = await vm.done;
      running.delete(vm);
      await tty1.stop();
      return r;
    };
    await withSerialTail('install VM', work, () => phases.run('VM 1: the ISO boots, auto mode installs', install), async (r) => {
      progress(`install VM: ${clock.describe()}`);
      const serial = r.serial;
      const out = installerConsole(serial);
      assert.equal(r.timedOut, false, 'the install VM timed out');
      assert.ok(r.poweredOff, `qemu exited on its own (exit ${r.exitCode}, stderr: ${r.qemuStderr.trim()})`);
      assertJobSettings(serial, out);
      assert.doesNotMatch(out, /INSTALL FAILED/);
      for (const step of ['partition', 'image-linux', 'config-drive', 'bootloader-linux']) assert.match(out, new RegExp(`^<== ${step}\\.service done in`, 'm'), `${step}.service finished`);
      assert.match(out, /^ {2}machine serial: VMTEST-0001$/m, 'serial from DMI');
      assert.match(out, /^ {2}webhook: reported success to http:\/\/10\.0\.2\.2:\d+\/api\/v1\/status-webhook\/VMTEST-0001$/m);
      assert.match(out, /^Install finished: powering off \(shoal\.poweroff\)\.$/m);
      assert.match(serial, POWER_DOWN, 'the guest powered off (kernel: reboot: Power down)');
      assert.ok(!serial.includes(secret), 'the webhook secret never reaches the console');
      assert.ok(!serial.includes('SHOAL-FIRSTBOOT'), 'user-data never reaches the console');

      const posted = await svc.receiver.waitFor((q) => q.path.endsWith(`/${SERIAL_OK}`), 1000);
      const body = assertWebhook(posted, SERIAL_OK, secret);
      assert.equal(body.status, 'success');
      assert.equal(body.failed_step, undefined);
      assert.equal(svc.receiver.requests.filter((q) => q.path.endsWith(`/${SERIAL_OK}`)).length, 1, 'one report');

      assert.ok(await varsHaveEntry(vars, 'debian'), 'efibootmgr wrote a "debian" Boot#### entry into the NVRAM (VARS file)');

      const shots = tty1?.files ?? [];
      // OCR does not read the dim progress line: the running step under the heading is what is checked.
      const seen = await firstShowing(shots, (s) => WATCHING.test(s) && /Automatic install in progress/i.test(s) && /image-linux\.service/.test(s));
      assert.ok(seen.png, `tty1 never showed the watch screen during the image step (${shots.length} screendumps); the last one read:\n${seen.text}`);
      await copyFile(seen.png, join(work, 'tty1-watch-progress.png'));
      installed = true;
    });
  });

  await t.test('the installed disk boots alone under OVMF with the NVRAM entry the install wrote; cloud-init applies the user-data', { skip: !installed && 'the install failed' }, async () => {
    const clock = serialClock({ firmware: /BdsDxe/, grub: /Welcome to GRUB|GNU GRUB/, kernel: /Linux version/, 'cloud-init': /Cloud-init v\. .* running 'init'/, marker: new RegExp(FIRSTBOOT_MARKER), 'power down': POWER_DOWN });
    const options = targetBootVmOptions({ name: 'firstboot', target, ovmfVars: vars, serialLog: join(work, 'serial-firstboot.log'), timeoutMs: 15 * 60_000, serial: SERIAL_OK });
    await withSerialTail('first boot of the installed disk', work, () => phases.run('VM 2: first boot (same VARS, NVRAM entry)', () => runVm({ ...options, onLine: (l) => (clock.onLine(l), progress(`firstboot| ${l}`)) })), (r) => {
      progress(`first boot: ${clock.describe()}`);
      assertFirstBoot(r, RECIPE_KERNEL_ARGS, FIRSTBOOT_MARKER);
      firstBooted = true;
    });
  });

  await t.test('with a fresh NVRAM the firmware falls back to \\EFI\\BOOT\\BOOTX64.EFI and the system comes up', { skip: !firstBooted && 'the first boot failed' }, async () => {
    const fresh = await freshOvmfVars(work, 'vars-fresh.fd');
    const loginPrompt = new RegExp(`^${TARGET_HOSTNAME} login:`, 'm');
    const options = targetBootVmOptions({ name: 'fallback', target, ovmfVars: fresh, serialLog: join(work, 'serial-fallback.log'), timeoutMs: 10 * 60_000 });
    await withSerialTail('fallback boot of the installed disk', work, () => phases.run('VM 3: boot with a fresh VARS (removable path)', () => runVm({ ...options, expect: (s) => loginPrompt.test(s), stopOnExpect: true })), (r) => {
      const serial = r.serial;
      assert.equal(r.timedOut, false, 'the fallback boot timed out');
      assert.ok(r.matched, 'reached the login prompt');
      assert.doesNotMatch(serial, /BdsDxe: (loading|starting) Boot[0-9A-F]{4} "debian"/, 'no "debian" entry in a fresh NVRAM');
      assert.match(serial, /BdsDxe: starting Boot[0-9A-F]{4} "UEFI [^"]*"/, 'booted by an entry the firmware made for the disk (its removable-media path)');
      assert.match(serial, /Linux version \d/);
      const cmdline = /Kernel command line: (.*)$/m.exec(serial)?.[1] ?? '';
      assert.match(cmdline, /\broot=UUID=[0-9a-f-]{36}\b/);
      assert.ok(cmdline.split(/\s+/).includes(RECIPE_KERNEL_ARGS));
      assert.match(serial, loginPrompt, `the host name cloud-init set persists: ${TARGET_HOSTNAME}`);
      assert.ok(!serial.includes(FIRSTBOOT_MARKER), 'cloud-init runs the per-instance user-data only once');
    });
  });

  await t.test('a missing image tag: webhook `failed` at image-linux.service, a console summary and tty1 say so, the machine stays up', async () => {
    const failTarget = await blankDisk(join(work, 'target-fail.img'));
    const task = await makeJobIso(linuxRecipe(svc.imageRef(MISSING_TAG)), secret, conf, join(work, 'task-fail.iso'));
    const SUMMARY_END = 'This machine stays up for inspection';
    let summaryAt: number | undefined;
    let tty1 = '';
    const vm = startVm({
      ...maintenanceVmOptions({
        name: 'fail',
        iso,
        task,
        target: failTarget,
        ovmfVars: await freshOvmfVars(work, 'vars-fail.fd'),
        serial: SERIAL_FAIL,
        serialLog: join(work, 'serial-fail.log'),
        timeoutMs: 15 * 60_000,
      }),
      onLine: (l) => {
        progress(`fail| ${l}`);
        if (summaryAt === undefined && l.includes(SUMMARY_END)) summaryAt = Date.now();
      },
    });
    running.add(vm);
    await withSerialTail(
      'failing install VM',
      work,
      () =>
        phases.run('VM 4: failing install (missing tag)', async () => {
          // Once the summary is out, the guest must still be running 15 s later (it stays up for a technician), and
          // tty1 must show the failure: then the test stops it.
          const summary = new Promise<void>((res) => {
            const poll = setInterval(() => {
              if (summaryAt === undefined) return;
              clearInterval(poll);
              res();
            }, 250);
            void vm.done.finally(() => clearInterval(poll));
          });
          const settled = await Promise.race([vm.done.then(() => 'exited' as const), summary.then(() => 'summary' as const)]);
          if (settled === 'summary') {
            const seen = await waitForScreen(vm, join(work, 'tty1-failed.png'), (s) => /failed at image-linux\.service/i.test(s), 60_000);
            tty1 = seen.text;
            const wait = Math.max(0, summaryAt! + 15_000 - Date.now());
            await Promise.race([vm.done, new Promise((res) => setTimeout(res, wait))]);
            vm.stop();
          }
          const r = await vm.done;
          running.delete(vm);
          return r;
        }),
      async (r) => {
        const serial = r.serial;
        const out = installerConsole(serial);
        assert.equal(r.timedOut, false, 'no failure summary before the timeout');
        assert.ok(summaryAt !== undefined, 'the failure summary appeared');
        assert.ok(r.stopped && !r.poweredOff, 'the machine stayed up after the failure (the harness had to stop it)');
        assert.doesNotMatch(serial, POWER_DOWN);
        assertJobSettings(serial, out);
        assert.match(out, /^={72}\nINSTALL FAILED at image-linux\.service$/m, 'the summary is framed');
        const summary = out.slice(out.indexOf('INSTALL FAILED at'));
        assert.match(summary, new RegExp(`^ {2}10\\.0\\.2\\.2:\\d+/os-images/debian-rootfs:${MISSING_TAG}: not found \\(HTTP 404, MANIFEST_UNKNOWN`, 'm'), `the summary names the missing tag:\n${summary}`);
        assert.match(summary, /^Last \d+ log lines:$/m);
        assert.match(summary, /^ {2}\| FAILED image-linux\.service: /m, 'the log tail shows the failed step');
        assert.match(summary, /^Full log: \/var\/log\/shoal-install\/install-.*\.jsonl$/m);
        assert.match(summary, /journalctl -b -u shoal-install-auto\.service/);
        assert.match(summary, /^={72}$/m);
        assert.match(summary, /^ {2}webhook: reported failed \(image-linux\.service\) to http:\/\/10\.0\.2\.2:\d+\/api\/v1\/status-webhook\/VMTEST-0002$/m);
        assert.match(summary, new RegExp(`^${SUMMARY_END}`, 'm'));
        assert.doesNotMatch(summary, /The controller was NOT told/);
        assert.ok(!serial.includes(secret), 'the webhook secret never reaches the console');
        assert.match(tty1, /failed at image-linux\.service/i, `tty1 shows the failed step; it read:\n${tty1}`);
        assert.match(tty1, WATCHING, 'on the watch screen');
        assert.match(tty1, new RegExp(MISSING_TAG.replaceAll('-', '.')), 'tty1 names the missing tag');

        const posted = await svc.receiver.waitFor((q) => q.path.endsWith(`/${SERIAL_FAIL}`), 1000);
        const body = assertWebhook(posted, SERIAL_FAIL, secret);
        assert.equal(body.status, 'failed');
        assert.equal(body.failed_step, 'image-linux.service');
        assert.ok(await untouched(failTarget), 'the preflight failed before anything was written to the target');
      },
    );
  });
});
