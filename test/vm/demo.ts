/**
 * `npm run demo`: watch shoal-install do an unattended install in a VM and the installed disk boot, end to end,
 * with the same machinery as test/vm/install-boot.test.ts. Needs root and the packages of .ci/run (qemu, ovmf,
 * debootstrap, docker-registry, skopeo, xorriso). The first run builds the caches (several minutes); later runs
 * start within seconds.
 *
 *   npm run demo              KVM when it really works here, else TCG (software emulation, slower)
 *   npm run demo -- --tcg     always TCG
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { missingPrerequisite } from '../helpers/env.ts';
import { cacheRoot } from './lib/cache.ts';
import { freshOvmfVars, kvmWorks, OVMF_CODE, QEMU, runVm, type VmOptions } from './lib/qemu.ts';
import {
  autoKernelArgs,
  blankDisk,
  buildBundle,
  buildCaches,
  copyOutOfImage,
  FIRSTBOOT_MARKER,
  GUEST_BUNDLE,
  installVmOptions,
  linuxRecipe,
  makeInstallerDisk,
  makeJobIso,
  newWebhookSecret,
  Phases,
  startServices,
  targetBootVmOptions,
  type Services,
} from './lib/scenario.ts';

const { values } = parseArgs({ options: { tcg: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
if (values.help) {
  process.stdout.write('npm run demo [-- --tcg]\n  Installs Debian onto a virtual disk in a VM with shoal-install auto mode, then boots it.\n');
  process.exit(0);
}

const tty = process.stdout.isTTY;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = '') => process.stdout.write(`${s}\n`);
const stage = (n: number, title: string) => say(`\n${bold(`=== ${n}. ${title}`)}`);
const SERIAL = 'DEMO-0001';

async function main(): Promise<number> {
  const why = missingPrerequisite([QEMU, 'debootstrap', 'xorriso', 'mkfs.ext4', 'debugfs', 'zstd', 'docker-registry', 'skopeo']);
  if (why) {
    say(`The demo cannot run here: ${why}.`);
    return 2;
  }
  const phases = new Phases();
  const work = await mkdtemp(join(tmpdir(), 'shoal-demo-'));
  say(bold('shoal-install demo: an unattended install in a VM, then the installed disk boots'));
  say(`Everything this run makes stays in ${work}; the slow-to-build parts are cached in ${cacheRoot()}.`);

  stage(1, 'Caches: the OS image to install, and the maintenance OS root');
  say('Built once with debootstrap (minutes), then reused: a Debian rootfs tarball (the "OS image") and a Debian');
  say('root for the maintenance VM, which stands in for the Shoal maintenance ISO the installer ships on.');
  const { fixture, maintBase } = await phases.run('caches', buildCaches);
  say(`  OS image:          ${fixture}`);
  say(`  maintenance root:  ${maintBase}`);

  stage(2, 'The installer bundle');
  const bundle = await phases.run('bundle', buildBundle);
  say(`  ${bundle} -> ${GUEST_BUNDLE} in the VM, started by shoal-install-auto.service`);

  stage(3, 'A real OCI registry and a stand-in for the Shoal controller, on this machine');
  let services: Services | undefined;
  try {
    services = await phases.run('registry', () => startServices(fixture));
    const svc = services;
    say(`  registry   ${svc.registry.url} (docker-registry, data in ${svc.registry.dir})`);
    say(`  image      ${svc.imageRef()}  (as the VM sees it: the host is 10.0.2.2 on qemu's user network)`);
    say(`  webhook    ${svc.receiver.url}  (the controller's status webhook)`);

    stage(4, 'The job: maintenance disk, task ISO with recipe.json, blank target disk');
    const disk = await phases.run('maintenance disk', () => makeInstallerDisk(maintBase, bundle, join(work, 'maint.img')));
    const recipe = linuxRecipe(svc.imageRef());
    const secret = newWebhookSecret();
    const iso = await makeJobIso(recipe, secret, join(work, 'task.iso'));
    const target = await blankDisk(join(work, 'target.img'));
    const vars = await freshOvmfVars(work, 'OVMF_VARS.fd');
    const kernelArgs = autoKernelArgs(svc.receiver.guestUrl, svc.registryGuestHost);
    say(`  maintenance disk  ${disk.image}  (the VM's /dev/vda)`);
    say(`  target disk       ${target}  (4 GiB, empty: the VM's /dev/vdb)`);
    say(`  task ISO          ${iso}  (recipe.json + webhook_secret: the VM's /dev/sr0)`);
    say(`  UEFI variables    ${vars}  (OVMF's NVRAM; the install adds a boot entry to it)`);
    say(`  kernel arguments  ${kernelArgs}`);
    say(dim(JSON.stringify(recipe, null, 2).split('\n').map((l) => `    ${l}`).join('\n')));

    const kvm = values.tcg ? { ok: false, why: '--tcg' } : await kvmWorks(disk.kernel);
    const accel = kvm.ok ? 'kvm' : 'tcg';
    say(`  accelerator       ${accel} (${kvm.why}${kvm.ok ? '' : ': software emulation, a few minutes per boot'})`);

    const stream = (name: string) => (line: string) => say(`${dim(`${name.padEnd(9)}|`)} ${line}`);
    const vm = (o: VmOptions): VmOptions => ({ ...o, accel, onLine: stream(o.name) });

    stage(5, 'Boot the maintenance VM: auto mode installs, reports, powers off (serial console below)');
    say(dim(`  serial log: ${join(work, 'serial-install.log')}`));
    const install = await phases.run('install VM', () =>
      runVm(vm(installVmOptions({ name: 'install', disk, target, iso, ovmfVars: vars, kernelArgs, serial: SERIAL, serialLog: join(work, 'serial-install.log'), timeoutMs: 30 * 60_000 }))),
    );
    const report = svc.receiver.requests.find((r) => r.path.endsWith(`/${SERIAL}`));
    say();
    if (report) {
      say(bold(`The controller stand-in received: POST ${report.path}`));
      say(`  X-Webhook-Secret: ${report.headers['x-webhook-secret'] === secret ? '(the secret from the task ISO)' : 'MISSING OR WRONG'}`);
      say(JSON.stringify(report.body, null, 2).split('\n').map((l) => `  ${l}`).join('\n'));
    } else {
      say('No webhook report arrived.');
    }
    const logs = await copyOutOfImage(disk.image, '/var/log/shoal-install', join(work, 'installer-logs'));
    if (logs) for (const f of await readdir(logs)) say(`  installer's JSON-lines log (copied out of the VM): ${join(logs, f)}`);
    const ok = install.poweredOff && /reboot: Power down/.test(install.serial) && (report?.body as { status?: string } | undefined)?.status === 'success';
    if (!ok) {
      say(`\nThe install did not finish as expected (powered off: ${install.poweredOff}, timed out: ${install.timedOut}). Serial log: ${join(work, 'serial-install.log')}`);
      return 1;
    }

    stage(6, 'Boot the installed disk alone: OVMF -> GRUB -> Debian -> cloud-init runs the recipe\'s user-data');
    say(dim('  the same UEFI variables, so the firmware takes the "debian" entry the install wrote'));
    const first = await phases.run('first boot', () =>
      runVm(vm(targetBootVmOptions({ name: 'firstboot', target, ovmfVars: vars, serialLog: join(work, 'serial-firstboot.log'), timeoutMs: 20 * 60_000, serial: SERIAL }))),
    );
    const booted = first.serial.includes(FIRSTBOOT_MARKER);

    stage(7, booted ? 'Done: the installed system booted and cloud-init applied the user-data' : 'The installed disk did not show the first-boot marker');
    say(booted ? `  seen on its serial console: ${bold(FIRSTBOOT_MARKER)}` : `  look at ${join(work, 'serial-firstboot.log')}`);
    say(`\nDurations:\n${phases.table().split('\n').map((l) => `  ${l}`).join('\n')}`);
    say(`\nFiles (delete with: rm -rf ${work}):`);
    for (const f of (await readdir(work)).sort()) say(`  ${join(work, f)}`);
    say('\nBoot the installed disk again yourself (Ctrl+A X quits qemu; root is locked, the login prompt shows the host name):');
    say(`  ${QEMU} -machine q35 -accel ${accel} -cpu ${accel === 'kvm' ? 'host' : 'max'} -m 1536 -smp 2 \\`);
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
