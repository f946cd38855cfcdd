/**
 * The product's proof, the Shoal way: a server (qemu, OVMF) boots the maintenance ISO from a virtual CD with the
 * job's task ISO on a second one, and nobody sets a kernel argument. The server has three disks (lib/machine-disks.ts:
 * the blank target on virtio-blk, another OS on SCSI, a data disk on NVMe); the recipe names no device but picks
 * the target by its serial (target_disk_hints). The boot finds the task ISO, auto mode takes the webhook, its secret
 * and shoal.poweroff from the task ISO (shoal.conf, webhook_secret), installs the Debian fixture from a real OCI
 * registry as a container image of three layers (lib/fixture-layers.ts: base, whiteouts, kernel), reports `success`
 * and powers off; the other two disks keep every byte. The installed disk then boots alone under OVMF (with the
 * NVRAM entry the install wrote, and by the removable-media fallback), cloud-init applies the recipe's user-data and
 * prints what the layers left: the whited-out file gone, the opaque directory's lower files gone, the replaced file
 * new. Plus the failure path: a missing image tag is reported as `image-linux.service`, summarised on the console,
 * and the machine stays up.
 *
 * The serial line carries the kernel console (the ISO's default entry mirrors it to ttyS0), where auto mode
 * prints its plain progress lines. What a technician sees on tty1 (the watch screen) is read from VGA screendumps
 * through the qemu monitor, by OCR (lib/screen.ts).
 *
 * SHOAL_KEEP_VM_WORK=1 keeps the work directory (serial logs, screens, disks) even when the test passes.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LAYERS_RUNCMD, LAYERS_SEEN, pushFixtureLayers } from './lib/fixture-layers.ts';
import { buildFixtureRootfs } from './lib/fixture-os.ts';
import { maintenanceIso } from './lib/iso.ts';
import { assertJobSettings, assertWebhook, installerConsole, neverWritten, SUMMARY_END, withSerialTail, type FailureCount } from './lib/job-checks.ts';
import { progress } from './lib/log.ts';
import { diskDigests, GUEST, makeMachineDisks, TARGET_SERIAL } from './lib/machine-disks.ts';
import { freshOvmfVars, runVm, startVm, type Vm } from './lib/qemu.ts';
import {
  assertFirstBoot,
  blankDisk,
  FIRSTBOOT_MARKER,
  IMAGE_REPO,
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
  userData,
  varsHaveEntry,
  vmSkipReason,
  type Services,
} from './lib/scenario.ts';
import { firstShowing, ScreenRecorder, waitForScreen } from './lib/screen.ts';

const skip = vmSkipReason(['tesseract', 'pngtopnm', 'sgdisk', 'mkfs.ext4']);
if (skip) process.stderr.write(`\n*** SKIPPING the install-and-boot VM test: ${skip} ***\n\n`);

const SERIAL_OK = 'VMTEST-0001';
const SERIAL_FAIL = 'VMTEST-0002';
const MISSING_TAG = 'no-such-tag';
/** The fixture as a container image of three layers, beside the single-file artifact startServices pushes. */
const LAYERED_TAG = '12-layers';
/** The watch screen's heading on tty1 (tui/watch.tsx). */
const WATCHING = /Watching the automatic install/i;

const failures: FailureCount = { count: 0 };

test(
  'install and boot: a Shoal job on the maintenance ISO installs Debian from an OCI registry, the disk boots under OVMF and cloud-init runs',
  { skip, timeout: 110 * 60_000 },
  async (t) => {
    const phases = new Phases();
    const work = await mkdtemp(join(tmpdir(), 'shoal-install-boot-'));
    progress(`work directory: ${work}`);
    let services: Services | undefined;
    const running = new Set<Vm>();
    t.after(async () => {
      for (const vm of running) vm.stop();
      await services?.stop();
      progress(`phase durations:\n${phases.table()}`);
      if (failures.count > 0 || process.env.SHOAL_KEEP_VM_WORK === '1') progress(`kept ${work} (serial logs, screens, disks, VARS) for inspection`);
      else await rm(work, { recursive: true, force: true });
    });

    const fixture = await phases.run('fixture OS (cached)', buildFixtureRootfs);
    const iso = await phases.run('maintenance ISO (cached by its inputs)', () => maintenanceIso());
    const svc = (services = await phases.run('registry + push fixture', () => startServices(fixture)));
    const layered = await phases.run('push the fixture in three layers', () => pushFixtureLayers(svc.registry, `${IMAGE_REPO}:${LAYERED_TAG}`, fixture));
    progress(`ISO ${iso}; registry ${svc.registry.url}, image ${svc.imageRef(LAYERED_TAG)} (${layered.manifestDigest}), webhook ${svc.receiver.url}`);

    const disks = await phases.run('three disks (target, another OS, data)', () => makeMachineDisks(work));
    const target = disks.target;
    const othersBefore = await diskDigests({ otherOs: disks.otherOs, data: disks.data });
    const vars = await freshOvmfVars(work, 'vars-install.fd');
    const secret = newWebhookSecret();
    const conf = jobConf(svc.receiver.guestUrl, svc.registryGuestHost, { poweroff: true });
    let installed = false;
    let firstBooted = false;

    await t.test('the ISO boots, finds the task ISO, installs onto the blank disk, reports success to the webhook and powers off', async () => {
      // No device name: the hints pick the disk by its serial among three.
      const recipe = linuxRecipe(svc.imageRef(LAYERED_TAG), { target_disk: undefined, target_disk_hints: { serial: TARGET_SERIAL }, user_data: userData([LAYERS_RUNCMD]) });
      const task = await makeJobIso(recipe, secret, conf, join(work, 'task-ok.iso'));
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
          ...maintenanceVmOptions({
            name: 'install',
            iso,
            task,
            target: disks.vmDisks,
            ovmfVars: vars,
            serial: SERIAL_OK,
            serialLog: join(work, 'serial-install.log'),
            timeoutMs: 50 * 60_000,
          }),
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
      await withSerialTail(
        failures,
        'install VM',
        work,
        () => phases.run('VM 1: the ISO boots, auto mode installs', install),
        async (r) => {
          progress(`install VM: ${clock.describe()}`);
          const serial = r.serial;
          const out = installerConsole(serial);
          assert.equal(r.timedOut, false, 'the install VM timed out');
          assert.ok(r.poweredOff, `qemu exited on its own (exit ${r.exitCode}, stderr: ${r.qemuStderr.trim()})`);
          assertJobSettings(serial, out);
          assert.doesNotMatch(out, /INSTALL FAILED/);
          for (const step of ['partition', 'image-linux', 'config-drive', 'bootloader-linux'])
            assert.match(out, new RegExp(`^<== ${step}\\.service done in`, 'm'), `${step}.service finished`);
          assert.match(out, /^ {2}machine serial: VMTEST-0001$/m, 'serial from DMI');
          assert.match(out, new RegExp(`^ {2}chosen: the only disk matching serial:${TARGET_SERIAL}$`, 'm'), 'the plan says why the hints chose the disk');
          for (const other of [GUEST.otherOs, GUEST.data]) {
            assert.match(out, new RegExp(`^ {2}not ${other}: serial is "[^"]*", not "${TARGET_SERIAL}"$`, 'm'), `the plan says why not ${other}`);
          }
          for (const n of [1, 2, 3]) assert.match(out, new RegExp(`^ {2}layer ${n} of 3: ${layered.layerDigests[n - 1]} `, 'm'), `layer ${n} fetched by its digest`);
          assert.match(out, /^ {2}layer 2 of 3 unpacked; 1 whiteouts and 1 opaque directories: \d+ paths of lower layers removed$/m, 'the whiteouts applied');
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
          assert.equal(body.image_digest, layered.manifestDigest, 'the report names the manifest installed');
          assert.deepEqual(
            { ...(body.target_disk as Record<string, unknown>), why: undefined },
            { path: GUEST.target, chosen_by: 'hints', hints: `serial:${TARGET_SERIAL}`, serial: TARGET_SERIAL, why: undefined },
            `the report names the disk the hints chose: ${JSON.stringify(body.target_disk)}`,
          );
          assert.match(String((body.target_disk as Record<string, unknown>).why), new RegExp(`serial:${TARGET_SERIAL}`), 'and why');
          assert.deepEqual(await diskDigests({ otherOs: disks.otherOs, data: disks.data }), othersBefore, 'the other OS and the data disk keep every byte');

          assert.ok(await varsHaveEntry(vars, 'debian'), 'efibootmgr wrote a "debian" Boot#### entry into the NVRAM (VARS file)');

          const shots = tty1?.files ?? [];
          // OCR does not read the dim progress line: the running step under the heading is what is checked.
          const seen = await firstShowing(shots, (s) => WATCHING.test(s) && /Automatic install in progress/i.test(s) && /image-linux\.service/.test(s));
          assert.ok(seen.png, `tty1 never showed the watch screen during the image step (${shots.length} screendumps); the last one read:\n${seen.text}`);
          await copyFile(seen.png, join(work, 'tty1-watch-progress.png'));
          installed = true;
        },
      );
    });

    await t.test(
      'the installed disk boots alone under OVMF with the NVRAM entry the install wrote; cloud-init applies the user-data',
      { skip: !installed && 'the install failed' },
      async () => {
        const clock = serialClock({
          firmware: /BdsDxe/,
          grub: /Welcome to GRUB|GNU GRUB/,
          kernel: /Linux version/,
          'cloud-init': /Cloud-init v\. .* running 'init'/,
          marker: new RegExp(FIRSTBOOT_MARKER),
          'power down': POWER_DOWN,
        });
        const options = targetBootVmOptions({
          name: 'firstboot',
          target,
          ovmfVars: vars,
          serialLog: join(work, 'serial-firstboot.log'),
          timeoutMs: 15 * 60_000,
          serial: SERIAL_OK,
        });
        await withSerialTail(
          failures,
          'first boot of the installed disk',
          work,
          () => phases.run('VM 2: first boot (same VARS, NVRAM entry)', () => runVm({ ...options, onLine: (l) => (clock.onLine(l), progress(`firstboot| ${l}`)) })),
          (r) => {
            progress(`first boot: ${clock.describe()}`);
            assertFirstBoot(r, RECIPE_KERNEL_ARGS, FIRSTBOOT_MARKER);
            assert.ok(r.serial.includes(LAYERS_SEEN), `what the layers left, read on the installed system: ${/SHOAL-LAYERS.*/.exec(r.serial)?.[0] ?? '(no SHOAL-LAYERS line)'}`);
            firstBooted = true;
          },
        );
      },
    );

    await t.test('with a fresh NVRAM the firmware falls back to \\EFI\\BOOT\\BOOTX64.EFI and the system comes up', { skip: !firstBooted && 'the first boot failed' }, async () => {
      const fresh = await freshOvmfVars(work, 'vars-fresh.fd');
      const loginPrompt = new RegExp(`^${TARGET_HOSTNAME} login:`, 'm');
      const options = targetBootVmOptions({ name: 'fallback', target, ovmfVars: fresh, serialLog: join(work, 'serial-fallback.log'), timeoutMs: 10 * 60_000 });
      await withSerialTail(
        failures,
        'fallback boot of the installed disk',
        work,
        () => phases.run('VM 3: boot with a fresh VARS (removable path)', () => runVm({ ...options, expect: (s) => loginPrompt.test(s), stopOnExpect: true })),
        (r) => {
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
        },
      );
    });

    await t.test('a missing image tag: webhook `failed` at image-linux.service, a console summary and tty1 say so, the machine stays up', async () => {
      const failTarget = await blankDisk(join(work, 'target-fail.img'));
      const task = await makeJobIso(linuxRecipe(svc.imageRef(MISSING_TAG)), secret, conf, join(work, 'task-fail.iso'));
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
        failures,
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
          assert.match(
            summary,
            new RegExp(`^ {2}10\\.0\\.2\\.2:\\d+/os-images/debian-rootfs:${MISSING_TAG}: not found \\(HTTP 404, MANIFEST_UNKNOWN`, 'm'),
            `the summary names the missing tag:\n${summary}`,
          );
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
          assert.ok(await neverWritten(failTarget), 'the preflight failed before anything was written to the target');
        },
      );
    });
  },
);
