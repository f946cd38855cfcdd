import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildFixtureRootfs, readFixtureMeta } from './lib/fixture-os.ts';
import { progress } from './lib/log.ts';
import { buildMaintenanceBase, MAINT_KERNEL_ARGS, makeMaintenanceDisk } from './lib/maint-root.ts';
import { freshOvmfVars, OVMF_CODE, OVMF_VARS_TEMPLATE, QEMU, runVm, type VmResult } from './lib/qemu.ts';
import { sh } from './lib/sh.ts';
import { makeTaskIso } from './lib/task-iso.ts';
import { startWebhookReceiver } from './lib/webhook-receiver.ts';

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (debootstrap, chroot and mkfs.ext4 -d with owners need it)';
  for (const file of [OVMF_CODE, OVMF_VARS_TEMPLATE]) if (!existsSync(file)) return `${file} missing: apt-get install ovmf`;
  for (const cmd of [QEMU, 'debootstrap', 'xorriso', 'mkfs.ext4', 'zstd']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      return `${cmd} missing: apt-get install qemu-system-x86 debootstrap xorriso e2fsprogs zstd`;
    }
  }
  return undefined;
}

const skip = missingPrerequisite();
if (skip) process.stderr.write(`\n*** SKIPPING the VM harness test: ${skip} ***\n\n`);

/** Runs after network-online.target in the guest and reports on the serial console, which the test reads. */
function probeScript(webhookUrl: string): string {
  return `#!/bin/sh
exec >/dev/ttyS0 2>&1
echo "PROBE begin uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "PROBE node=$(/usr/local/bin/node --version)"
if [ -d /sys/firmware/efi/efivars ]; then echo "PROBE efivars=yes"; else echo "PROBE efivars=no"; fi
echo "PROBE lsblk:"
lsblk --nodeps -o NAME,SIZE,TYPE,RO
# udev loads virtio_scsi and sr_mod by itself; wait for it a little instead of racing it.
i=0; while [ ! -b /dev/sr0 ] && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done
if [ -b /dev/sr0 ]; then echo "PROBE sr0=yes"; else echo "PROBE sr0=no"; fi
if mount -o ro /dev/sr0 /mnt; then
  echo "PROBE iso-files=$(ls /mnt | tr '\\n' ' ')"
  echo "PROBE recipe=$(cat /mnt/recipe.json)"
  umount /mnt
fi
/usr/local/bin/node --input-type=module -e '
  const res = await fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ probe: "harness", node: process.version }) }).catch((e) => e);
  console.log(res instanceof Error ? "PROBE webhook=error " + (res.cause?.message ?? res.message) : "PROBE webhook=" + res.status + " " + (await res.text()));
' '${webhookUrl}/api/v1/status-webhook/harness'
echo "PROBE end uptime=$(cut -d' ' -f1 /proc/uptime)"
systemctl --no-block poweroff
`;
}

const PROBE_UNIT = `[Unit]
Description=VM harness probe
Wants=network-online.target
After=network-online.target
# The serial getty hangs up ttyS0 when it starts, which silences whatever else writes there: finish first.
Before=serial-getty@ttyS0.service getty.target

[Service]
Type=oneshot
ExecStart=/usr/local/bin/harness-probe

[Install]
WantedBy=multi-user.target
`;

test('VM harness: fixture rootfs, and a maintenance VM under OVMF sees node, efivars, disks, task ISO and the host', { skip, timeout: 40 * 60_000 }, async (t) => {
  await t.test('fixture rootfs tarball has a kernel, GRUB for UEFI and cloud-init, owners kept', async () => {
    const t0 = Date.now();
    const tarball = await buildFixtureRootfs();
    const meta = await readFixtureMeta(tarball);
    progress(`fixture rootfs ${tarball}: ${meta.tarballBytes >> 20} MiB packed, ${meta.unpackedBytes >> 20} MiB unpacked (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    const listing = await sh(['tar', '--zstd', '--numeric-owner', '-tvf', tarball]);
    const names = listing.split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
    assert.ok(names.some((n) => /^\.\/boot\/vmlinuz-\S+$/.test(n)), 'boot/vmlinuz-*');
    assert.ok(names.some((n) => n.startsWith('./usr/lib/grub/x86_64-efi/')), 'usr/lib/grub/x86_64-efi');
    assert.ok(names.includes('./usr/bin/cloud-init'), 'usr/bin/cloud-init');
    assert.match(listing, /^-\S+ 0\/42 .* \.\/etc\/shadow$/m, 'numeric owners kept (etc/shadow is root:shadow)');
    assert.ok(meta.unpackedBytes > 500 * 2 ** 20 && meta.kernels.length === 1, JSON.stringify(meta));

    const dir = await mkdtemp(join(tmpdir(), 'shoal-fixture-'));
    try {
      const files = ['./etc/default/grub', './etc/cloud/cloud.cfg.d/90_dpkg.cfg', './etc/machine-id', './etc/hostname', './etc/fstab', './etc/shadow'];
      await sh(['tar', '--zstd', '-xf', tarball, '-C', dir, ...files]);
      const read = (f: string) => readFile(join(dir, f), 'utf8');
      assert.match(await read('etc/default/grub'), /^GRUB_CMDLINE_LINUX="console=ttyS0,115200"$/m);
      assert.match(await read('etc/default/grub'), /^GRUB_TERMINAL="serial console"$/m);
      assert.match(await read('etc/cloud/cloud.cfg.d/90_dpkg.cfg'), /datasource_list: \[ NoCloud, None \]/);
      assert.match(await read('etc/shadow'), /^root:!/m, 'root password locked');
      for (const empty of ['etc/machine-id', 'etc/hostname', 'etc/fstab']) assert.equal(await read(empty), '', empty);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  await t.test('maintenance VM boots under OVMF and probes its environment', async () => {
    const work = await mkdtemp(join(tmpdir(), 'shoal-harness-'));
    const receiver = await startWebhookReceiver();
    let result: VmResult | undefined;
    try {
      const base = await buildMaintenanceBase();
      const disk = await makeMaintenanceDisk({
        base,
        overlayFiles: {
          '/usr/local/bin/harness-probe': probeScript(receiver.guestUrl),
          '/etc/systemd/system/harness-probe.service': PROBE_UNIT,
        },
        enableUnits: ['harness-probe.service'],
        outImage: join(work, 'maint.img'),
      });
      const target = join(work, 'target.img');
      await writeFile(target, '');
      await truncate(target, 4 * 2 ** 30);
      const recipe = JSON.stringify({ schema_version: '1', target_disk: '/dev/vdb', harness: true });
      const iso = await makeTaskIso({ 'recipe.json': recipe }, join(work, 'task.iso'));

      let probeAt: number | undefined;
      const started = Date.now();
      result = await runVm({
        name: 'maint',
        kernel: disk.kernel,
        initrd: disk.initrd,
        append: MAINT_KERNEL_ARGS,
        disks: [{ path: disk.image, format: 'raw' }, { path: target, format: 'raw' }],
        taskIso: iso,
        ovmfVars: await freshOvmfVars(work),
        timeoutMs: 10 * 60_000,
        serialLog: join(work, 'serial.log'),
        expect: (serial) => {
          if (probeAt === undefined && serial.includes('PROBE begin')) probeAt = Date.now();
          return serial.includes('PROBE end');
        },
      });
      progress(`maintenance VM: probe ran ${(((probeAt ?? NaN) - started) / 1000).toFixed(0)} s after qemu started; qemu exited after ${(result.durationMs / 1000).toFixed(0)} s`);

      const serial = result.serial;
      assert.equal(result.timedOut, false, 'timed out');
      assert.ok(result.poweredOff, `the guest powered off (qemu exit code ${result.exitCode}, stderr: ${result.qemuStderr})`);
      assert.ok(result.matched, 'the probe finished');
      assert.match(serial, new RegExp(`^PROBE node=${process.version.replaceAll('.', '\\.')}$`, 'm'));
      assert.match(serial, /^PROBE efivars=yes$/m, 'booted in UEFI mode');
      assert.match(serial, /^vda\s+4G\s+disk/m, 'maintenance root as /dev/vda');
      assert.match(serial, /^vdb\s+4G\s+disk/m, 'blank target as /dev/vdb');
      assert.match(serial, /^PROBE sr0=yes$/m, 'task ISO as /dev/sr0');
      assert.match(serial, /^PROBE iso-files=.*\brecipe\.json\b/m);
      assert.ok(serial.includes(`PROBE recipe=${recipe}`), 'recipe.json readable from the mounted ISO');
      assert.match(serial, /^PROBE webhook=200 \{"ok":true\}$/m, 'guest reached the host receiver');
      const posted = await receiver.waitFor((r) => r.method === 'POST', 1000);
      assert.equal(posted.path, '/api/v1/status-webhook/harness');
      assert.deepEqual(posted.body, { probe: 'harness', node: process.version });
      await rm(work, { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`\n--- maintenance VM serial tail (full log and disks kept in ${work}) ---\n${result?.serialTail(120) ?? '(no VM run)'}\n---\n`);
      throw e;
    } finally {
      await receiver.close();
    }
  });
});
