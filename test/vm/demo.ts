/**
 * `npm run demo`: watch a Shoal job run on the maintenance ISO in a VM, and the installed disk boot, end to end,
 * with the same machinery as test/vm/install-boot.test.ts. Needs root and the packages of scripts/setup-host.sh.
 * The first run builds the caches (the OS image and the ISO's base: several minutes); later runs start within
 * seconds, or a minute when the installer changed (the ISO's installer layer).
 *
 *   npm run demo              KVM when it really works here, else TCG (software emulation, slower)
 *   npm run demo -- --tcg     always TCG
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheRoot } from './lib/cache.ts';
import { buildFixtureRootfs } from './lib/fixture-os.ts';
import { maintenanceIso } from './lib/iso.ts';
import { freshOvmfVars, kvmWorks, OVMF_CODE, QEMU, runVm, type VmOptions } from './lib/qemu.ts';
import {
  blankDisk,
  FIRSTBOOT_MARKER,
  jobConf,
  linuxRecipe,
  maintenanceVmOptions,
  makeJobIso,
  newWebhookSecret,
  Phases,
  startServices,
  targetBootVmOptions,
  vmSkipReason,
  type Services,
} from './lib/scenario.ts';
import { sh } from './lib/sh.ts';

const { values } = parseArgs({ options: { tcg: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
if (values.help) {
  process.stdout.write(
    'npm run demo [-- --tcg]\n  Boots the maintenance ISO in a VM with a Shoal job (task ISO): auto mode installs Debian onto a virtual disk, then the disk boots.\n',
  );
  process.exit(0);
}

const tty = process.stdout.isTTY;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = '') => process.stdout.write(`${s}\n`);
const stage = (n: number, title: string) => say(`\n${bold(`=== ${n}. ${title}`)}`);
const SERIAL = 'DEMO-0001';

/** The ISO's kernel, for the KVM probe. */
async function isoKernel(iso: string, dir: string): Promise<string> {
  const out = join(dir, 'vmlinuz');
  await sh(['xorriso', '-osirrox', 'on', '-indev', iso, '-extract', '/live/vmlinuz', out]);
  return out;
}

async function main(): Promise<number> {
  const why = vmSkipReason();
  if (why) {
    say(`The demo cannot run here: ${why}.`);
    return 2;
  }
  const phases = new Phases();
  const work = await mkdtemp(join(tmpdir(), 'shoal-demo-'));
  say(bold('shoal-install demo: a Shoal job on the maintenance ISO in a VM, then the installed disk boots'));
  say(`Everything this run makes stays in ${work}; the slow-to-build parts are cached in ${cacheRoot()}.`);

  stage(1, 'The OS image to install, and the maintenance ISO');
  say('Built once (minutes), then reused: a Debian rootfs tarball (the "OS image", debootstrap), and the maintenance');
  say("ISO a server's BMC boots (scripts/build_maintenance_os.sh: Debian live system, Node, the installer and its units).");
  const fixture = await phases.run('OS image', buildFixtureRootfs);
  const iso = await phases.run('maintenance ISO', () => maintenanceIso());
  say(`  OS image:         ${fixture}`);
  say(`  maintenance ISO:  ${iso}`);

  stage(2, 'A real OCI registry and a stand-in for the Shoal controller, on this machine');
  let services: Services | undefined;
  try {
    services = await phases.run('registry', () => startServices(fixture));
    const svc = services;
    say(`  registry   ${svc.registry.url} (docker-registry, data in ${svc.registry.dir})`);
    say(`  image      ${svc.imageRef()}  (as the VM sees it: the host is 10.0.2.2 on qemu's user network)`);
    say(`  webhook    ${svc.receiver.url}  (the controller's status webhook)`);

    stage(3, 'The job: task ISO with recipe.json, webhook_secret and shoal.conf; a blank target disk');
    const recipe = linuxRecipe(svc.imageRef());
    const secret = newWebhookSecret();
    const conf = jobConf(svc.receiver.guestUrl, svc.registryGuestHost, { poweroff: true });
    const task = await makeJobIso(recipe, secret, conf, join(work, 'task.iso'));
    const target = await blankDisk(join(work, 'target.img'));
    const vars = await freshOvmfVars(work, 'OVMF_VARS.fd');
    say(`  maintenance ISO  ${iso}  (the first virtual CD, /dev/sr0: the firmware boots it)`);
    say(`  task ISO         ${task}  (the second virtual CD, /dev/sr1)`);
    say(`  target disk      ${target}  (4 GiB, empty: the VM's /dev/vda)`);
    say(`  UEFI variables   ${vars}  (OVMF's NVRAM; the install adds a boot entry to it)`);
    say("  kernel arguments none: the ISO's GRUB boots its default entry, which finds the task ISO and runs auto mode");
    say(
      dim(
        conf
          .trimEnd()
          .split('\n')
          .map((l) => `    shoal.conf: ${l}`)
          .join('\n'),
      ),
    );
    say(
      dim(
        JSON.stringify(recipe, null, 2)
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n'),
      ),
    );

    const kvm = values.tcg ? { ok: false, why: '--tcg' } : await kvmWorks(await isoKernel(iso, work));
    const accel = kvm.ok ? 'kvm' : 'tcg';
    say(`  accelerator      ${accel} (${kvm.why}${kvm.ok ? '' : ': software emulation, a few minutes per boot'})`);

    const stream = (name: string) => (line: string) => say(`${dim(`${name.padEnd(9)}|`)} ${line}`);
    const vm = (o: VmOptions): VmOptions => ({ ...o, accel, onLine: stream(o.name) });

    stage(4, 'Power on: the maintenance ISO boots, auto mode installs, reports, powers off (serial console below)');
    say(dim(`  serial log: ${join(work, 'serial-install.log')}`));
    const install = await phases.run('install VM', () =>
      runVm(vm(maintenanceVmOptions({ name: 'install', iso, task, target, ovmfVars: vars, serial: SERIAL, serialLog: join(work, 'serial-install.log'), timeoutMs: 30 * 60_000 }))),
    );
    const report = svc.receiver.requests.find((r) => r.path.endsWith(`/${SERIAL}`));
    say();
    if (report) {
      say(bold(`The controller stand-in received: POST ${report.path}`));
      say(`  X-Webhook-Secret: ${report.headers['x-webhook-secret'] === secret ? '(the secret from the task ISO)' : 'MISSING OR WRONG'}`);
      say(
        JSON.stringify(report.body, null, 2)
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
      );
    } else {
      say('No webhook report arrived.');
    }
    const ok = install.poweredOff && /reboot: Power down/.test(install.serial) && (report?.body as { status?: string } | undefined)?.status === 'success';
    if (!ok) {
      say(`\nThe install did not finish as expected (powered off: ${install.poweredOff}, timed out: ${install.timedOut}). Serial log: ${join(work, 'serial-install.log')}`);
      return 1;
    }

    stage(5, "Boot the installed disk alone: OVMF -> GRUB -> Debian -> cloud-init runs the recipe's user-data");
    say(dim('  the same UEFI variables, so the firmware takes the "debian" entry the install wrote'));
    const first = await phases.run('first boot', () =>
      runVm(vm(targetBootVmOptions({ name: 'firstboot', target, ovmfVars: vars, serialLog: join(work, 'serial-firstboot.log'), timeoutMs: 20 * 60_000, serial: SERIAL }))),
    );
    const booted = first.serial.includes(FIRSTBOOT_MARKER);

    stage(6, booted ? 'Done: the installed system booted and cloud-init applied the user-data' : 'The installed disk did not show the first-boot marker');
    say(booted ? `  seen on its serial console: ${bold(FIRSTBOOT_MARKER)}` : `  look at ${join(work, 'serial-firstboot.log')}`);
    say(
      `\nDurations:\n${phases
        .table()
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}`,
    );
    say(`\nFiles (delete with: rm -rf ${work}):`);
    for (const f of (await readdir(work)).sort()) say(`  ${join(work, f)}`);
    say('\nBoot the installed disk again yourself (Ctrl+A X quits qemu; root is locked, the login prompt shows the host name):');
    say(`  ${QEMU} -machine q35 -accel ${accel} -cpu ${accel === 'kvm' ? 'host' : 'Nehalem'} -m 1536 -smp 2 \\`);
    say(`    -drive if=pflash,format=raw,readonly=on,file=${OVMF_CODE} -drive if=pflash,format=raw,file=${vars} \\`);
    say(`    -drive if=virtio,format=raw,file=${target} -nic user,model=virtio-net-pci -nographic`);
    return booted ? 0 : 1;
  } finally {
    await services?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
