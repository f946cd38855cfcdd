/**
 * The scenario shared by the VM tests and test/vm/demo.ts: the maintenance ISO as a server's BMC mounts it, the
 * fixture OS in a real registry on loopback, a webhook receiver standing in for the Shoal controller, the job's
 * task ISO (recipe.json, webhook_secret, shoal.conf), and the qemu options for the maintenance VM and for the
 * installed disk's boot; then what a good first boot of that disk looks like.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { missingPrerequisite } from '../../helpers/env.ts';
import { pushArtifact, startRegistry, type PushedArtifact, type TestRegistry } from '../../helpers/registry.ts';
import { progress } from './log.ts';
import { OVMF_CODE, OVMF_VARS_TEMPLATE, QEMU, type VmDisk, type VmOptions, type VmResult } from './qemu.ts';
import { makeTaskIso } from './task-iso.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

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

/**
 * What the VM tests run: qemu and OVMF, the fixture's and the maintenance ISO's builders (debootstrap; mmdebstrap,
 * squashfs-tools, GRUB, xorriso, mtools, npm: scripts/build_maintenance_os.sh), the registry and skopeo.
 */
const VM_TOOLS = [QEMU, 'debootstrap', 'mmdebstrap', 'mksquashfs', 'grub-mkrescue', 'xorriso', 'mformat', 'npm', 'zstd', 'docker-registry', 'skopeo'];

/** Why a VM test cannot run here (not root, OVMF or a tool missing), or undefined; `extraTools` are the test's own. */
export function vmSkipReason(extraTools: string[] = []): string | undefined {
  for (const file of [OVMF_CODE, OVMF_VARS_TEMPLATE]) if (!existsSync(file)) return `${file} missing: apt-get install ovmf`;
  return missingPrerequisite([...VM_TOOLS, ...extraTools]);
}

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

/** cloud-init user-data: host name, a marker on the serial console, then `runcmd` (YAML flow lists), then power off (the run's end). */
export function userData(runcmd: string[] = []): string {
  return `#cloud-config
hostname: ${TARGET_HOSTNAME}
runcmd:
  - [ sh, -c, 'echo SHOAL-FIRSTBOOT-OK host=$(hostname) > /dev/ttyS0' ]
${runcmd.map((c) => `  - ${c}\n`).join('')}power_state:
  mode: poweroff
  message: shoal vm test done
`;
}

/**
 * The Shoal example Linux recipe (ESP + cidata + root), pointed at the test registry, onto /dev/vda (the blank disk
 * is the VM's only one); `fields` replace or add recipe fields (`target_disk: undefined` leaves it out).
 */
export function linuxRecipe(ociUrl: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: '1',
    task_target: 'install-linux.target',
    target_disk: '/dev/vda',
    oci_url: ociUrl,
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
      { size: '16M', type_guid: '0700', format: 'vfat', label: 'cidata' },
      { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
    kernel_args: RECIPE_KERNEL_ARGS,
    user_data: userData(),
    notes: 'shoal-install VM test',
    ...fields,
  };
}

export function newWebhookSecret(): string {
  return `vmtest-${randomBytes(12).toString('hex')}`;
}

/**
 * The job's shoal.conf: what a controller cannot put on the kernel command line. The webhook (the guest reaches
 * the host as 10.0.2.2), the test registry in plain HTTP, and whether to power off after a successful install.
 */
export function jobConf(webhookUrl: string, registryGuestHost: string, { poweroff }: { poweroff: boolean }): string {
  return [
    '# Written by the VM test, as a Shoal controller would',
    `shoal.webhook=${webhookUrl}`,
    `shoal.plain_http=${registryGuestHost}`,
    ...(poweroff ? ['shoal.poweroff'] : []),
    '',
  ].join('\n');
}

/** The job's task ISO as the controller makes it: recipe.json, webhook_secret and shoal.conf at its root. */
export async function makeJobIso(recipe: unknown, secret: string, conf: string, outPath: string): Promise<string> {
  return makeTaskIso({ 'recipe.json': `${JSON.stringify(recipe, null, 2)}\n`, webhook_secret: `${secret}\n`, 'shoal.conf': conf }, outPath);
}

/** SMBIOS type 1 serial: what /sys/class/dmi/id/product_serial shows the installer. */
const smbiosSerial = (serial: string) => ['-smbios', `type=1,serial=${serial}`];

export interface MaintenanceRun {
  name: string;
  /** The maintenance ISO (lib/iso.ts): the CD the firmware boots. */
  iso: string;
  /** The job's task ISO, the second CD; none: the machine boots to the console installer. */
  task?: string;
  /** The blank disk to install onto, the VM's only disk (/dev/vda); or all the machine's disks. */
  target: string | VmDisk[];
  ovmfVars: string;
  serial: string;
  serialLog: string;
  timeoutMs: number;
  /** The serial line on a socket for a technician's terminal (VmOptions.serialSocket). */
  serialSocket?: string;
}

/**
 * A server as Shoal drives it: OVMF, the maintenance ISO and the task ISO as virtual CDs (/dev/sr0, /dev/sr1), the
 * blank disk, and no kernel argument from us: GRUB on the ISO boots its default entry.
 */
export function maintenanceVmOptions(r: MaintenanceRun): VmOptions {
  return {
    name: r.name,
    disks: typeof r.target === 'string' ? [{ path: r.target, format: 'raw' }] : r.target,
    cds: [{ path: r.iso, boot: true }, ...(r.task ? [{ path: r.task }] : [])],
    ovmfVars: r.ovmfVars,
    timeoutMs: r.timeoutMs,
    serialLog: r.serialLog,
    serialSocket: r.serialSocket,
    extraArgs: smbiosSerial(r.serial),
  };
}

/** The installed disk alone under OVMF: no CD; the firmware finds GRUB on the ESP. */
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

/** Records when each pattern first showed up on a serial console, in seconds after `start`. */
export function serialClock(patterns: Record<string, RegExp>, start = Date.now()) {
  const seen: Record<string, number> = {};
  return {
    seen,
    onLine(line: string) {
      for (const [name, re] of Object.entries(patterns)) if (seen[name] === undefined && re.test(line)) seen[name] = (Date.now() - start) / 1000;
    },
    describe: () =>
      Object.entries(seen)
        .map(([k, v]) => `${k} at ${v.toFixed(0)} s`)
        .join(', '),
  };
}

export const POWER_DOWN = /reboot: Power down/;

/**
 * The installed disk's first boot, as the serial console shows it: the firmware took the entry the install
 * wrote, GRUB and the kernel ran with the root by UUID and `kernelArgs`, cloud-init took its seed from the cidata
 * partition and finished, and no unit failed.
 */
export function assertInstalledBoot(r: VmResult, kernelArgs: string): void {
  const serial = r.serial;
  assert.equal(r.timedOut, false, 'the first boot timed out');
  assert.match(serial, /BdsDxe: (loading|starting) Boot[0-9A-F]{4} "debian"/, 'the firmware took the "debian" entry the install wrote');
  assert.match(serial, /Welcome to GRUB|GNU GRUB|Booting `Debian GNU\/Linux'/, 'GRUB ran');
  assert.match(serial, /Linux version \d/, 'the kernel started');
  const cmdline = /Kernel command line: (.*)$/m.exec(serial)?.[1] ?? '';
  assert.match(cmdline, /\broot=UUID=[0-9a-f-]{36}\b/, `root by UUID: ${cmdline}`);
  assert.ok(cmdline.split(/\s+/).includes(kernelArgs), `the install's kernel args ${kernelArgs}: ${cmdline}`);
  assert.match(cmdline, /\bconsole=ttyS0,115200\b/);
  assert.match(serial, /Cloud-init v\. \S+ finished at .* Datasource DataSourceNoCloud \[seed=\/dev\/vda2\]/, 'NoCloud seed from the cidata partition');
  assert.deepEqual(serial.match(/^\[FAILED\].*$/gm) ?? [], [], 'no unit failed on first boot');
}

/** assertInstalledBoot, and the recipe's user-data ran: cloud-init printed `marker`, and powered the guest off. */
export function assertFirstBoot(r: VmResult, kernelArgs: string, marker: string): void {
  assertInstalledBoot(r, kernelArgs);
  assert.ok(r.serial.includes(marker), `cloud-init ran the user-data: ${marker}`);
  assert.ok(r.poweredOff, `the guest powered off by itself (cloud-init power_state), exit ${r.exitCode}`);
  assert.match(r.serial, POWER_DOWN);
}
