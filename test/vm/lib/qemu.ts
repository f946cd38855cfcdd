import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { progress } from './log.ts';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS_TEMPLATE = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const QEMU = 'qemu-system-x86_64';

/**
 * A writable copy of the empty UEFI variable store. Reuse the same file for the installer run and the boot of the
 * installed disk to keep the NVRAM entries the install wrote; a fresh one tests the \EFI\BOOT\BOOTX64.EFI fallback.
 */
export async function freshOvmfVars(dir: string, name = 'OVMF_VARS_4M.fd'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await copyFile(OVMF_VARS_TEMPLATE, path);
  return path;
}

export interface VmDisk {
  path: string;
  format: 'raw';
  readonly?: boolean;
  /**
   * virtio (default): /dev/vda, /dev/vdb, ... in this order; usb: a USB stick (usb-storage on qemu-xhci), /dev/sdX;
   * scsi: a SCSI disk on the virtio-scsi controller the CDs use, /dev/sdX; nvme: an NVMe controller of its own.
   */
  bus?: 'virtio' | 'usb' | 'scsi' | 'nvme';
  /** The disk's serial number as the guest reads it (lsblk SERIAL, udev's by-id names); an NVMe disk always has one. */
  serial?: string;
  /** The SCSI disk's World Wide Name, `0x` and 16 hex digits (lsblk WWN, /dev/disk/by-id/wwn-...). */
  wwn?: string;
  /** The firmware tries this one first (bootindex=0). */
  boot?: boolean;
}

/** SCSI ids of the disks on scsi0 start here: the CDs take 0, 1, ... */
const FIRST_SCSI_DISK_ID = 8;

/** A CD as a BMC's virtual media shows one: a SCSI CD on virtio-scsi (an IDE -cdrom was not seen by the guest under OVMF). */
export interface VmCd {
  path: string;
  /** The firmware boots from this one (bootindex=0). */
  boot?: boolean;
}

export interface VmOptions {
  /** Prefix of the streamed serial lines. */
  name: string;
  /** uefi (default): OVMF, with `ovmfVars`; bios: SeaBIOS, qemu's own firmware. */
  firmware?: 'uefi' | 'bios';
  /** Writable VARS pflash (see freshOvmfVars); required under UEFI. */
  ovmfVars?: string;
  disks: VmDisk[];
  /** SCSI CDs in this order: the guest's /dev/sr0, /dev/sr1, ... */
  cds?: VmCd[];
  memoryMiB?: number;
  cpus?: number;
  timeoutMs: number;
  /** The raw serial output goes here as it arrives. */
  serialLog: string;
  /**
   * The serial line (ttyS0) also as a unix socket here, for a terminal to attach to (lib/serial-line.ts): what the
   * guest wrote before it connected is replayed to it, and what it types reaches the guest.
   */
  serialSocket?: string;
  /** qemu user networking, virtio-net; the host's loopback is 10.0.2.2 to the guest. Default true. */
  net?: boolean;
  /** Checked on every serial chunk; sets `matched` once it returns true. */
  expect?: (serialSoFar: string) => boolean;
  /** Stop the VM as soon as `expect` matched. Only when the disks' state no longer matters: this is a power cut. */
  stopOnExpect?: boolean;
  /** Each complete serial line, cleaned of escape sequences. Default: printed as progress. */
  onLine?: (line: string) => void;
  /** Appended verbatim to the qemu command line. */
  extraArgs?: string[];
  /** Default tcg: KVM does not work on the development/CI machines (docs/test-machines.md); see kvmWorks(). */
  accel?: 'tcg' | 'kvm';
}

export interface VmResult {
  /**
   * qemu exited 0 on its own: the guest powered off, or rebooted (a kernel panic with panic=N included), since
   * -no-reboot makes a reset an exit too. Check the serial output for the marker that tells them apart.
   */
  poweredOff: boolean;
  /** qemu's exit code. Also 0 when the harness stopped it (qemu exits cleanly on SIGTERM): look at poweredOff. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The harness stopped the VM: timeout, stopOnExpect or stop(). */
  stopped: boolean;
  timedOut: boolean;
  matched: boolean;
  /** Serial output without ANSI escape sequences and carriage returns. */
  serial: string;
  /** qemu's own messages (bad arguments, missing files). */
  qemuStderr: string;
  durationMs: number;
  /** The last n serial lines, for a failure message. */
  serialTail(n?: number): string;
}

export interface Vm {
  done: Promise<VmResult>;
  /** One human monitor command; resolves with its output. */
  monitor(command: string): Promise<string>;
  /** The VGA screen as PNG: tty1, where the guest writes when it has no serial console. */
  screendump(path: string): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): void;
}

const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>c78]/g;

function cleanSerial(text: string): string {
  return text.replace(ANSI, '').replace(/\r/g, '');
}

function serialTail(serial: string, n = 80): string {
  return serial.trimEnd().split('\n').slice(-n).join('\n');
}

/** qemu splits -drive options on commas; a comma inside a path is written twice. */
const optPath = (path: string) => path.replaceAll(',', ',,');

/**
 * The CPU under TCG: a model without AVX. qemu 7.2's `max` offers TCG's then-new AVX emulation, and the guest's
 * node (V8 emits AVX when the CPU has it) died of SIGSEGV at random in 2 of about 16 console-installer runs.
 */
const TCG_CPU = 'Nehalem';

/**
 * One vCPU under TCG: with two, the maintenance ISO's kernel (6.12) once died of an int3 Oops right after
 * patching its own code (put_prev_entity, a static branch), the other vCPU still running the old translation.
 */
const TCG_CPUS = 1;

function qemuArgs(o: VmOptions, monitorSocket: string): string[] {
  const args = [
    '-name',
    o.name,
    '-machine',
    'q35',
    '-accel',
    o.accel ?? 'tcg',
    '-cpu',
    o.accel === 'kvm' ? 'host' : TCG_CPU,
    '-m',
    String(o.memoryMiB ?? 1536),
    '-smp',
    String(o.cpus ?? (o.accel === 'kvm' ? 2 : TCG_CPUS)),
    // No window; serial on stdio so it can be streamed; the monitor on a socket for screendumps.
    '-display',
    'none',
    '-serial',
    'stdio',
    '-monitor',
    `unix:${monitorSocket},server,nowait`,
    // A guest reboot ends the run like a power-off: the caller then looks at the disks.
    '-no-reboot',
  ];
  if ((o.firmware ?? 'uefi') === 'uefi') {
    if (!o.ovmfVars) throw new Error(`${o.name}: a UEFI VM needs ovmfVars (freshOvmfVars)`);
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`);
    args.push('-drive', `if=pflash,format=raw,unit=1,file=${optPath(o.ovmfVars)}`);
  }
  const bootindex = (boot?: boolean) => (boot ? ',bootindex=0' : '');
  if (o.disks.some((d) => d.bus === 'usb')) args.push('-device', 'qemu-xhci,id=xhci');
  if (o.cds?.length || o.disks.some((d) => d.bus === 'scsi')) args.push('-device', 'virtio-scsi-pci,id=scsi0');
  o.disks.forEach((d, i) => {
    // cache=unsafe makes the guest's flushes no-ops, which a TCG run needs for speed; the data still reaches the file before qemu exits.
    args.push('-drive', `if=none,id=disk${i},file=${optPath(d.path)},format=${d.format},cache=unsafe${d.readonly ? ',readonly=on' : ''}`);
    const props = `drive=disk${i}${d.serial ? `,serial=${d.serial}` : ''}${bootindex(d.boot)}`;
    const device = {
      virtio: `virtio-blk-pci,${props}`,
      usb: `usb-storage,bus=xhci.0,${props}`,
      scsi: `scsi-hd,bus=scsi0.0,scsi-id=${FIRST_SCSI_DISK_ID + i}${d.wwn ? `,wwn=${d.wwn}` : ''},${props}`,
      nvme: `nvme,${props}`,
    }[d.bus ?? 'virtio'];
    args.push('-device', device);
  });
  o.cds?.forEach((cd, i) => {
    args.push('-drive', `if=none,id=cd${i},media=cdrom,readonly=on,format=raw,file=${optPath(cd.path)}`);
    args.push('-device', `scsi-cd,drive=cd${i},bus=scsi0.0,scsi-id=${i}${bootindex(cd.boot)}`);
  });
  // Without -nic none, qemu adds an e1000 of its own.
  args.push('-nic', o.net === false ? 'none' : 'user,model=virtio-net-pci');
  return [...args, ...(o.extraArgs ?? [])];
}

/** Sends one line to the human monitor and reads up to its next prompt. `quit` closes the socket instead. */
function monitorCommand(socket: string, command: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let buffer = '';
    let sent = false;
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`qemu monitor: no answer to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      conn.end();
      // The monitor's line editor echoes the command with redraw sequences up to the first newline.
      const answer = buffer.slice(buffer.indexOf('\n') + 1);
      resolve(
        cleanSerial(answer)
          .replace(/\(qemu\) $/, '')
          .trim(),
      );
    };
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buffer += chunk;
      if (!buffer.endsWith('(qemu) ')) return;
      if (sent) return finish();
      sent = true;
      buffer = '';
      conn.write(`${command}\n`);
    });
    conn.on('close', () => (sent ? finish() : undefined));
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * The serial line on a unix socket, for one terminal at a time: everything the guest wrote so far is replayed to
 * a terminal when it connects (GRUB may have drawn its menu before), then it sees what the guest writes and types
 * into `toGuest` (qemu's stdin, which `-serial stdio` reads).
 */
function serialRelay(path: string, toGuest: Writable): { write(chunk: string): void; close(): void } {
  let written = '';
  let terminal: Socket | undefined;
  const server = createServer((conn) => {
    terminal?.destroy();
    terminal = conn;
    conn.write(written);
    conn.on('data', (keys) => toGuest.write(keys));
    conn.on('error', () => conn.destroy());
  });
  server.on('error', (e) => progress(`serial socket ${path}: ${e.message}`));
  server.listen(path);
  // A guest that has exited no longer reads its stdin.
  toGuest.on('error', () => undefined);
  return {
    write(chunk) {
      written += chunk;
      terminal?.write(chunk);
    },
    close() {
      terminal?.end();
      server.close();
    },
  };
}

/** Boots a VM under TCG (OVMF or SeaBIOS); see VmOptions. The run ends when qemu exits or at the timeout (screen saved beside the serial log). */
export function startVm(opts: VmOptions): Vm {
  const workDir = mkdtempSync(join(tmpdir(), 'shoal-vm-'));
  const monitorSocket = join(workDir, 'monitor.sock');
  mkdirSync(dirname(opts.serialLog), { recursive: true });
  const log = createWriteStream(opts.serialLog);
  const onLine = opts.onLine ?? ((line: string) => progress(`${opts.name}| ${line}`));
  const started = Date.now();

  // stdin is the serial line's input: a terminal on serialSocket types into it.
  const child = spawn(QEMU, qemuArgs(opts, monitorSocket), { stdio: ['pipe', 'pipe', 'pipe'] });
  const relay = opts.serialSocket ? serialRelay(opts.serialSocket, child.stdin) : undefined;
  // A test process that dies (an uncaught error, the runner's timeout) must not leave its guest running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let serial = '';
  let partial = '';
  let qemuStderr = '';
  let matched = false;
  let timedOut = false;
  let stopped = false;

  const stop = () => {
    stopped = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  };
  const monitor = (command: string) => monitorCommand(monitorSocket, command);
  const screendump = async (path: string) => {
    await mkdir(dirname(path), { recursive: true });
    await monitor(`screendump ${path} -f png`);
  };

  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    log.write(chunk);
    relay?.write(chunk);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = cleanSerial(raw);
      serial += `${line}\n`;
      onLine(line);
    }
    if (!matched && opts.expect?.(serial + cleanSerial(partial))) {
      matched = true;
      if (opts.stopOnExpect) stop();
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (qemuStderr += chunk));

  const timer = setTimeout(() => {
    timedOut = true;
    progress(`${opts.name}: timed out after ${opts.timeoutMs} ms; screen saved to ${opts.serialLog}.timeout.png`);
    screendump(`${opts.serialLog}.timeout.png`)
      .catch(() => undefined)
      .finally(stop);
  }, opts.timeoutMs);

  const done = new Promise<VmResult>((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${QEMU} could not start: ${e.message}`));
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      if (partial) serial += cleanSerial(partial);
      process.off('exit', killOnExit);
      relay?.close();
      rmSync(workDir, { recursive: true, force: true });
      const finalSerial = serial;
      // After the log is flushed, so that a caller may read the file as soon as the run is done.
      log.end(() =>
        resolve({
          poweredOff: exitCode === 0 && !stopped,
          exitCode,
          signal,
          stopped,
          timedOut,
          matched,
          serial: finalSerial,
          qemuStderr,
          durationMs: Date.now() - started,
          serialTail: (n = 80) => serialTail(finalSerial, n),
        }),
      );
    });
  });
  return { done, monitor, screendump, stop };
}

export function runVm(opts: VmOptions): Promise<VmResult> {
  return startVm(opts).done;
}

/**
 * Whether KVM really runs a guest here: /dev/kvm can exist while guests hang without a word (docs/test-machines.md). Boots
 * `kernel` with no root and panic=1 under KVM: a working KVM prints the banner and panics (qemu exits) within
 * seconds; a broken one prints nothing until the timeout.
 */
export async function kvmWorks(kernel: string, timeoutMs = 20_000): Promise<{ ok: boolean; why: string }> {
  const { access, constants } = await import('node:fs/promises');
  const usable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!usable) return { ok: false, why: '/dev/kvm is missing or not writable' };
  return new Promise((resolve) => {
    const child = spawn(
      QEMU,
      [
        '-machine',
        'q35',
        '-accel',
        'kvm',
        '-cpu',
        'host',
        '-m',
        '256',
        '-display',
        'none',
        '-serial',
        'stdio',
        '-no-reboot',
        '-nic',
        'none',
        '-kernel',
        kernel,
        '-append',
        'console=ttyS0 panic=1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, why: e.message });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const last = err.trim().split('\n').at(-1);
      if (out.includes('Linux version')) resolve({ ok: true, why: 'a test kernel booted under KVM' });
      else if (timedOut) resolve({ ok: false, why: `a test kernel printed nothing under KVM within ${timeoutMs / 1000} s` });
      else resolve({ ok: false, why: `qemu failed under KVM (${signal ?? `exit ${code}`})${last ? `: ${last}` : ''}` });
    });
  });
}
