/**
 * The install-and-boot scenario, shared by test/vm/install-boot.test.ts and test/vm/demo.ts: the installer bundle
 * on a maintenance VM disk, the fixture OS in a real registry on loopback, a webhook receiver, the task ISO with a
 * Shoal Linux recipe, and the qemu options for the three kinds of run (install, installed disk, failing install).
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushArtifact, startRegistry, type PushedArtifact, type TestRegistry } from '../../helpers/registry.ts';
import { buildFixtureRootfs } from './fixture-os.ts';
import { progress } from './log.ts';
import { serialLineArgs } from './serial-line.ts';
import { buildMaintenanceBase, MAINT_KERNEL_ARGS, makeMaintenanceDisk, type MaintenanceDisk, type OverlayFile } from './maint-root.ts';
import type { VmOptions, VmResult } from './qemu.ts';
import { sh } from './sh.ts';
import { makeTaskIso } from './task-iso.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the fixture OS lives in the test registry, and how it is pushed (as `oras push` would). */
export const IMAGE_REPO = 'os-images/debian-rootfs';
export const IMAGE_TAG = '12';
export const ROOTFS_ARTIFACT = {
  mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
  artifactType: 'application/vnd.shoal.rootfs.tar.zst',
  title: 'rootfs.tar.zst',
} as const;

/** What the recipe's user-data sets, and what cloud-init prints on the installed system's serial console. */
export const TARGET_HOSTNAME = 'shoal-vm-test';
export const FIRSTBOOT_MARKER = `SHOAL-FIRSTBOOT-OK host=${TARGET_HOSTNAME}`;
/** The recipe's kernel_args: must reach the installed kernel's command line. */
export const RECIPE_KERNEL_ARGS = 'shoal.test=1';
export const TARGET_DISK_BYTES = 4 * 2 ** 30;

/** Install layout of the maintenance OS (Containerfile): the bundle, the wrapper, the units. */
export const GUEST_BUNDLE = '/usr/local/lib/shoal-install/shoal-install.mjs';
export const GUEST_WRAPPER = '/usr/local/bin/shoal-install';
export const GUEST_UNIT_DIR = '/usr/lib/systemd/system';
export const UNITS = ['shoal-install-auto.service', 'shoal-install-console.service', 'shoal-install-serial@.service', 'shoal-install-watch.service'] as const;
/** Enabled as the Containerfile does: auto and watch run under `shoal.auto`, the console one steps aside by its conditions. */
export const ENABLED_UNITS = ['shoal-install-auto.service', 'shoal-install-console.service', 'shoal-install-watch.service'] as const;

// --- phases --------------------------------------------------------------------------------------------------

export interface Phase {
  name: string;
  ms: number;
}

/** Runs named phases and remembers how long each took, for the report at the end. */
export class Phases {
  readonly done: Phase[] = [];
  async run<T>(name: string, body: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    progress(`== ${name} ...`);
    try {
      return await body();
    } finally {
      const ms = Date.now() - t0;
      this.done.push({ name, ms });
      progress(`== ${name}: ${(ms / 1000).toFixed(1)} s`);
    }
  }
  table(): string {
    const width = Math.max(...this.done.map((p) => p.name.length), 5);
    const total = this.done.reduce((s, p) => s + p.ms, 0);
    return [...this.done, { name: 'total', ms: total }].map((p) => `${p.name.padEnd(width)}  ${(p.ms / 1000).toFixed(1).padStart(7)} s`).join('\n');
  }
}

// --- inputs ----------------------------------------------------------------------------------------------------

/** `node scripts/build.mjs`: the one-file bundle the maintenance OS runs. */
export async function buildBundle(): Promise<string> {
  await sh([process.execPath, 'scripts/build.mjs'], { cwd: REPO_ROOT });
  return join(REPO_ROOT, 'dist/shoal-install.mjs');
}

/** The cached fixture rootfs tarball and maintenance root (built on first use, minutes; then instant). */
export async function buildCaches(): Promise<{ fixture: string; maintBase: string }> {
  const fixture = await buildFixtureRootfs();
  const maintBase = await buildMaintenanceBase();
  return { fixture, maintBase };
}

/** The maintenance VM's root disk: the base plus node, the bundle, its wrapper and the units, enabled; plus `extraFiles` (drop-ins, user-data). */
export async function makeInstallerDisk(maintBase: string, bundle: string, outImage: string, extraFiles: Record<string, OverlayFile> = {}): Promise<MaintenanceDisk> {
  const overlayFiles: Record<string, OverlayFile> = {
    ...extraFiles,
    [GUEST_BUNDLE]: { hostPath: bundle },
    [GUEST_WRAPPER]: { hostPath: join(REPO_ROOT, 'scripts/shoal-install.sh') },
  };
  for (const unit of UNITS) overlayFiles[`${GUEST_UNIT_DIR}/${unit}`] = { hostPath: join(REPO_ROOT, 'units', unit) };
  return makeMaintenanceDisk({ base: maintBase, overlayFiles, enableUnits: [...ENABLED_UNITS], outImage });
}

/** A second maintenance disk from a pristine one: a sparse copy is much quicker than another mkfs -d. */
export async function copyDisk(from: MaintenanceDisk, outImage: string): Promise<MaintenanceDisk> {
  await rm(outImage, { force: true });
  await sh(['cp', '--sparse=always', '--reflink=auto', from.image, outImage]);
  return { ...from, image: outImage };
}

export async function blankDisk(path: string, bytes = TARGET_DISK_BYTES): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, '');
  await truncate(path, bytes);
  return path;
}

export interface Services {
  registry: TestRegistry;
  receiver: WebhookReceiver;
  pushed: PushedArtifact;
  /** `10.0.2.2:PORT`: the registry as the guest reaches it. */
  registryGuestHost: string;
  /** The image reference a recipe names, as the guest reaches it. */
  imageRef(tag?: string): string;
  stop(): Promise<void>;
}

/** A real registry on 127.0.0.1 with the fixture pushed as an oras-style artifact, and the webhook receiver. */
export async function startServices(fixture: string): Promise<Services> {
  const registry = await startRegistry();
  let receiver: WebhookReceiver | undefined;
  try {
    const pushed = await pushArtifact(registry, `${IMAGE_REPO}:${IMAGE_TAG}`, fixture, ROOTFS_ARTIFACT);
    receiver = await startWebhookReceiver();
    const port = registry.host.split(':')[1];
    const registryGuestHost = `10.0.2.2:${port}`;
    const rcv = receiver;
    return {
      registry,
      receiver: rcv,
      pushed,
      registryGuestHost,
      imageRef: (tag = IMAGE_TAG) => `${registryGuestHost}/${IMAGE_REPO}:${tag}`,
      stop: async () => {
        await rcv.close();
        await registry.stop();
      },
    };
  } catch (e) {
    await receiver?.close();
    await registry.stop();
    throw e;
  }
}

/** cloud-init user-data: host name, a marker on the serial console, then power off (the run's end). */
export const USER_DATA = `#cloud-config
hostname: ${TARGET_HOSTNAME}
runcmd:
  - [ sh, -c, 'echo SHOAL-FIRSTBOOT-OK host=$(hostname) > /dev/ttyS0' ]
power_state:
  mode: poweroff
  message: shoal vm test done
`;

/** The Shoal example Linux recipe (ESP + cidata + root), pointed at the test registry. */
export function linuxRecipe(ociUrl: string, targetDisk = '/dev/vdb'): Record<string, unknown> {
  return {
    schema_version: '1',
    task_target: 'install-linux.target',
    target_disk: targetDisk,
    oci_url: ociUrl,
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
      { size: '16M', type_guid: '0700', format: 'vfat', label: 'cidata' },
      { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
    kernel_args: RECIPE_KERNEL_ARGS,
    user_data: USER_DATA,
    notes: 'shoal-install VM test',
  };
}

export function newWebhookSecret(): string {
  return `vmtest-${randomBytes(12).toString('hex')}`;
}

/** The job's task ISO: recipe.json and webhook_secret at its root, as the controller makes it. */
export async function makeJobIso(recipe: unknown, secret: string, outPath: string): Promise<string> {
  return makeTaskIso({ 'recipe.json': `${JSON.stringify(recipe, null, 2)}\n`, webhook_secret: `${secret}\n` }, outPath);
}

/** The maintenance VM's command line for an unattended install that reports to `webhookUrl` and powers off. */
export function autoKernelArgs(webhookUrl: string, registryGuestHost: string): string {
  return `${MAINT_KERNEL_ARGS} shoal.auto shoal.poweroff shoal.webhook=${webhookUrl} shoal.plain_http=${registryGuestHost}`;
}

/** SMBIOS type 1 serial: what /sys/class/dmi/id/product_serial shows the installer. */
export const smbiosSerial = (serial: string) => ['-smbios', `type=1,serial=${serial}`];

export interface InstallRun {
  name: string;
  disk: MaintenanceDisk;
  target: string;
  iso: string;
  ovmfVars: string;
  kernelArgs: string;
  serial: string;
  serialLog: string;
  timeoutMs: number;
  /** A socket for the guest's ttyS1 (lib/serial-line.ts). */
  serialLine?: string;
}

/** The maintenance VM: its root on vda, the blank target on vdb, the task ISO as /dev/sr0, OVMF with efivars. */
export function installVmOptions(r: InstallRun): VmOptions {
  return {
    name: r.name,
    kernel: r.disk.kernel,
    initrd: r.disk.initrd,
    append: r.kernelArgs,
    disks: [{ path: r.disk.image, format: 'raw' }, { path: r.target, format: 'raw' }],
    taskIso: r.iso,
    ovmfVars: r.ovmfVars,
    timeoutMs: r.timeoutMs,
    serialLog: r.serialLog,
    extraArgs: [...smbiosSerial(r.serial), ...(r.serialLine ? serialLineArgs(r.serialLine) : [])],
  };
}

/** The installed disk alone under OVMF: no kernel, no ISO; the firmware finds GRUB on the ESP. */
export function targetBootVmOptions(o: { name: string; target: string; ovmfVars: string; serialLog: string; timeoutMs: number; serial?: string }): VmOptions {
  return {
    name: o.name,
    disks: [{ path: o.target, format: 'raw' }],
    ovmfVars: o.ovmfVars,
    timeoutMs: o.timeoutMs,
    serialLog: o.serialLog,
    extraArgs: o.serial ? smbiosSerial(o.serial) : [],
  };
}

/** Whether a UEFI variable store holds a boot entry with this description (Boot#### values hold it in UTF-16LE). */
export async function varsHaveEntry(varsFile: string, description: string): Promise<boolean> {
  const bytes = await readFile(varsFile);
  return bytes.includes(Buffer.from(`${description}\0`, 'utf16le'));
}

/**
 * Copies a directory out of a maintenance VM's ext4 root image without mounting it (debugfs rdump), e.g. the
 * installer's JSON-lines logs in /var/log/shoal-install. Returns the host directory, or undefined when absent.
 */
export async function copyOutOfImage(image: string, guestDir: string, hostParent: string): Promise<string | undefined> {
  await mkdir(hostParent, { recursive: true });
  await sh(['debugfs', '-R', `rdump ${guestDir} ${hostParent}`, image]).catch(() => undefined);
  const out = join(hostParent, guestDir.split('/').filter(Boolean).at(-1)!);
  return (await readFile(out).catch((e: NodeJS.ErrnoException) => e.code)) === 'EISDIR' ? out : undefined;
}

/** Records when each pattern first showed up on a serial console, in seconds after `start`. */
export function serialClock(patterns: Record<string, RegExp>, start = Date.now()) {
  const seen: Record<string, number> = {};
  return {
    seen,
    onLine(line: string) {
      for (const [name, re] of Object.entries(patterns)) if (seen[name] === undefined && re.test(line)) seen[name] = (Date.now() - start) / 1000;
    },
    describe: () => Object.entries(seen).map(([k, v]) => `${k} at ${v.toFixed(0)} s`).join(', '),
  };
}

/**
 * The installer's one JSON-lines log, read off the maintenance disk without mounting it: all four Linux steps
 * ended, the result is ok, and none of `secrets` (webhook secret, user-data markers) is in it.
 */
export async function assertCompleteInstallLog(image: string, work: string, secrets: string[]): Promise<void> {
  const logs = await copyOutOfImage(image, '/var/log/shoal-install', join(work, 'install-logs'));
  assert.ok(logs, 'the installer wrote /var/log/shoal-install');
  const files = (await readdir(logs)).filter((f) => f.endsWith('.jsonl'));
  assert.equal(files.length, 1, `one JSON-lines log: ${files.join(', ')}`);
  const text = await readFile(join(logs, files[0]!), 'utf8');
  const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string; result?: { ok: boolean } });
  assert.deepEqual(events.filter((e) => e.type === 'step-end').map((e) => e.step), ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service']);
  assert.equal(events.filter((e) => e.type === 'result').at(-1)?.result?.ok, true);
  for (const secret of secrets) assert.ok(!text.includes(secret), 'no secret, no user-data in the JSON log');
}

export const POWER_DOWN = /reboot: Power down/;

/**
 * The installed disk's first boot, as the serial console shows it: the firmware took the entry the install
 * wrote, GRUB and the kernel ran with the root by UUID and `kernelArgs`, cloud-init printed `marker` from the
 * cidata partition, no unit failed, and the guest powered itself off.
 */
export function assertFirstBoot(r: VmResult, kernelArgs: string, marker: string): void {
  const serial = r.serial;
  assert.equal(r.timedOut, false, 'the first boot timed out');
  assert.match(serial, /BdsDxe: (loading|starting) Boot[0-9A-F]{4} "debian"/, 'the firmware took the "debian" entry the install wrote');
  assert.match(serial, /Welcome to GRUB|GNU GRUB|Booting `Debian GNU\/Linux'/, 'GRUB ran');
  assert.match(serial, /Linux version \d/, 'the kernel started');
  const cmdline = /Kernel command line: (.*)$/m.exec(serial)?.[1] ?? '';
  assert.match(cmdline, /\broot=UUID=[0-9a-f-]{36}\b/, `root by UUID: ${cmdline}`);
  assert.ok(cmdline.split(/\s+/).includes(kernelArgs), `the install's kernel args ${kernelArgs}: ${cmdline}`);
  assert.match(cmdline, /\bconsole=ttyS0,115200\b/);
  assert.ok(serial.includes(marker), `cloud-init ran the user-data: ${marker}`);
  assert.match(serial, /Cloud-init v\. \S+ finished at .* Datasource DataSourceNoCloud \[seed=\/dev\/vda2\]/, 'NoCloud seed from the cidata partition');
  assert.deepEqual(serial.match(/^\[FAILED\].*$/gm) ?? [], [], 'no unit failed on first boot');
  assert.ok(r.poweredOff, `the guest powered off by itself (cloud-init power_state), exit ${r.exitCode}`);
  assert.match(serial, POWER_DOWN);
}
