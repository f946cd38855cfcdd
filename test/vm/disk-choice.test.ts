/**
 * Never the wrong disk, on the maintenance ISO with real udev: the server of install-boot.test.ts (three disks on
 * virtio-blk, SCSI and NVMe, each with its serial, the SCSI one with a WWN, lib/machine-disks.ts), two Shoal jobs
 * that must be refused before anything is written. (The job that picks its disk by serial and installs is
 * install-boot.test.ts's.)
 *
 * - target_disk_hints that match two disks: refused, both candidates listed, the third not;
 * - `"wipe": "empty-or-same"` onto the disk that holds another OS, named by its udev link
 *   /dev/disk/by-id/wwn-0x...: refused, the OS named.
 *
 * Each is reported `failed` at provision-dispatcher.service to the webhook and summarised on the console; no disk
 * changes (blank ones still have no block allocated, the others keep their digests). The two VMs boot at the same
 * time: each has one vCPU, and a refusal takes little more than the boot.
 *
 * SHOAL_KEEP_VM_WORK=1 keeps the work directory (serial logs, disks) even when the test passes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildFixtureRootfs } from './lib/fixture-os.ts';
import { maintenanceIso } from './lib/iso.ts';
import { assertJobSettings, assertWebhook, installerConsole, neverWritten, SUMMARY_END, withSerialTail, type FailureCount } from './lib/job-checks.ts';
import { progress } from './lib/log.ts';
import { diskDigests, GUEST, makeMachineDisks, OTHER_OS, OTHER_OS_WWN, type MachineDisks } from './lib/machine-disks.ts';
import { freshOvmfVars, runVm, type VmResult } from './lib/qemu.ts';
import { jobConf, linuxRecipe, maintenanceVmOptions, makeJobIso, newWebhookSecret, Phases, startServices, vmSkipReason, type Services } from './lib/scenario.ts';

const skip = vmSkipReason(['sgdisk', 'mkfs.ext4']);
if (skip) process.stderr.write(`\n*** SKIPPING the disk choice VM test: ${skip} ***\n\n`);

const DISPATCHER_STEP = 'provision-dispatcher.service';
/** Matches the other OS (1.5 GiB) and the data disk (256 MiB), not the target (4 GiB). */
const TWO_DISK_HINTS = { size: '<= 2G' };
const BY_ID = `/dev/disk/by-id/wwn-${OTHER_OS_WWN}`;

const failures: FailureCount = { count: 0 };

interface RefusedRun {
  result: VmResult;
  disks: MachineDisks;
  before: Record<string, string>;
}

test(
  'disk choice on the maintenance ISO: hints that match two disks, and the wipe guard on another OS, are refused and write nothing',
  { skip, timeout: 60 * 60_000 },
  async (t) => {
    const phases = new Phases();
    const work = await mkdtemp(join(tmpdir(), 'shoal-disk-choice-'));
    progress(`work directory: ${work}`);
    let services: Services | undefined;
    t.after(async () => {
      await services?.stop();
      progress(`phase durations:\n${phases.table()}`);
      if (failures.count > 0 || process.env.SHOAL_KEEP_VM_WORK === '1') progress(`kept ${work} (serial logs, disks, VARS) for inspection`);
      else await rm(work, { recursive: true, force: true });
    });

    const fixture = await phases.run('fixture OS (cached)', buildFixtureRootfs);
    const iso = await phases.run('maintenance ISO (cached by its inputs)', () => maintenanceIso());
    const svc = (services = await phases.run('registry + push fixture', () => startServices(fixture)));
    const secret = newWebhookSecret();
    const conf = jobConf(svc.receiver.guestUrl, svc.registryGuestHost, { poweroff: true });

    /** Boots the maintenance ISO on three fresh disks with this job; stops the VM once the failure summary is out. */
    const refusedJob = async (name: string, serial: string, recipe: Record<string, unknown>): Promise<RefusedRun> => {
      const disks = await makeMachineDisks(join(work, name));
      const before = await diskDigests({ otherOs: disks.otherOs, data: disks.data });
      const task = await makeJobIso(recipe, secret, conf, join(work, `task-${name}.iso`));
      const options = maintenanceVmOptions({
        name,
        iso,
        task,
        target: disks.vmDisks,
        ovmfVars: await freshOvmfVars(work, `vars-${name}.fd`),
        serial,
        serialLog: join(work, `serial-${name}.log`),
        timeoutMs: 25 * 60_000,
      });
      const result = await phases.run(`VM ${name}: boot, auto mode refuses`, () =>
        runVm({ ...options, onLine: (l) => progress(`${name}| ${l}`), expect: (s) => s.includes(SUMMARY_END), stopOnExpect: true }),
      );
      return { result, disks, before };
    };

    /** The summary, the report and the disks after a refusal; returns the summary. */
    const assertRefused = async (run: RefusedRun, serial: string): Promise<string> => {
      const { result: r, disks } = run;
      const out = installerConsole(r.serial);
      assert.equal(r.timedOut, false, 'no failure summary before the timeout');
      assert.ok(r.matched, 'the failure summary appeared');
      assertJobSettings(r.serial, out);
      assert.match(out, new RegExp(`^={72}\\nINSTALL FAILED at ${DISPATCHER_STEP.replace('.', '\\.')}$`, 'm'), 'the summary is framed');
      const summary = out.slice(out.indexOf('INSTALL FAILED at'));
      assert.match(
        summary,
        new RegExp(`^ {2}webhook: reported failed \\(${DISPATCHER_STEP.replace('.', '\\.')}\\) to http://10\\.0\\.2\\.2:\\d+/api/v1/status-webhook/${serial}$`, 'm'),
      );
      assert.doesNotMatch(out, /^==> partition\.service/m, 'no step ran');
      assert.ok(!r.serial.includes(secret), 'the webhook secret never reaches the console');

      const posted = await svc.receiver.waitFor((q) => q.path.endsWith(`/${serial}`), 1000);
      const body = assertWebhook(posted, serial, secret);
      assert.equal(body.status, 'failed');
      assert.equal(body.failed_step, DISPATCHER_STEP);

      assert.ok(await neverWritten(disks.target), 'the blank disk had nothing written to it');
      assert.deepEqual(await diskDigests({ otherOs: disks.otherOs, data: disks.data }), run.before, 'the other OS and the data disk keep every byte');
      return summary;
    };

    // Both VMs at once; each subtest waits for its own.
    const twoMatch = refusedJob('hints', 'VMTEST-0003', linuxRecipe(svc.imageRef(), { target_disk: undefined, target_disk_hints: TWO_DISK_HINTS }));
    const guarded = refusedJob('guard', 'VMTEST-0004', linuxRecipe(svc.imageRef(), { target_disk: BY_ID, wipe: 'empty-or-same' }));
    // A rejection is awaited in its subtest: not an unhandled one meanwhile.
    for (const p of [twoMatch, guarded]) p.catch(() => undefined);

    await t.test('hints that match two disks: refused, both listed, the third not; nothing written', async () => {
      let run: RefusedRun | undefined;
      await withSerialTail(
        failures,
        'two-disk hints VM',
        work,
        async () => (run = await twoMatch).result,
        async () => {
          assert.ok(run);
          const summary = await assertRefused(run, 'VMTEST-0003');
          assert.match(summary, /^ {2}target_disk_hints \(size:<=2G\) match 2 disks; add a criterion \(serial, wwn, by_path\) or "pick":$/m, `the refusal:\n${summary}`);
          for (const candidate of [GUEST.otherOs, GUEST.data]) assert.match(summary, new RegExp(`^ {6}${candidate}: `, 'm'), `${candidate} listed as a candidate`);
          assert.doesNotMatch(summary, new RegExp(`^ {6}${GUEST.target}: `, 'm'), 'the 4 GiB disk is not a candidate');
        },
      );
    });

    await t.test('wipe "empty-or-same" onto another OS, named by its udev by-id link: refused naming the OS; that disk unchanged', async () => {
      let run: RefusedRun | undefined;
      await withSerialTail(
        failures,
        'wipe guard VM',
        work,
        async () => (run = await guarded).result,
        async () => {
          assert.ok(run);
          const summary = await assertRefused(run, 'VMTEST-0004');
          const out = installerConsole(run.result.serial);
          // udev made the link before auto mode looked: it did not wait for it (nor fall back to the disks' facts).
          assert.doesNotMatch(out, /waiting up to \d+ s for \/dev\/disk\/by-id\//, 'the by-id link was there');
          assert.match(
            summary,
            // The guard's is the only reason: the recipe's layout fits that disk.
            new RegExp(
              `^ {2}the plan was refused, nothing was written:\\n {4}- wipe "empty-or-same": ${GUEST.otherOs}1 holds ${OTHER_OS.name.replace(/[()]/g, '\\$&')} \\(ID ${OTHER_OS.id}\\), not the OS being installed \\(debian rootfs from [^\\n]*\\)\\n {2}what to do: `,
              'm',
            ),
            `the refusal names the OS on ${BY_ID} (${GUEST.otherOs}):\n${summary}`,
          );
        },
      );
    });
  },
);
