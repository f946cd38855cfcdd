/**
 * Stable disk names: `/dev/disk/by-id/...` and `/dev/disk/by-path/...`. Where udev runs (the maintenance OS) the
 * links exist and are read as they are. Without udev (a container, a minimal host) no link exists, so the names
 * are derived from lsblk's facts and the disk's sysfs path the way udev's 60-persistent-storage rules and
 * path_id name them, for the common buses (SATA, SAS, SCSI, NVMe, USB, virtio).
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';

export const BY_ID = '/dev/disk/by-id';
export const BY_PATH = '/dev/disk/by-path';

/** What the names are derived from: lsblk's columns and where the disk sits in sysfs. */
export interface NameFacts {
  name: string;
  transport?: string;
  model?: string;
  vendor?: string;
  serial?: string;
  wwn?: string;
  hctl?: string;
  /** lsblk's ID-LINK (util-linux 2.39+, from udev): the shortest by-id name. */
  idLink?: string;
  /** `/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/.../block/sda`, from /sys/class/block/NAME. */
  sysPath?: string;
  /** A SAS end device's address (`/sys/class/sas_device/end_device-X/sas_address`). */
  sasAddress?: string;
}

/** udev's character rules: whitespace runs become one `_`, anything outside its safe set becomes `_`. */
export function udevSafe(text: string): string {
  return text
    .trim()
    .replace(/\s+/g, '_')
    .replace(/[^0-9A-Za-z#+\-.:=@_]/g, '_');
}

const hexWwn = (wwn: string) => wwn.toLowerCase().replace(/^0x/, '');

/** by-id names udev gives a disk with these facts. */
export function deriveById(f: NameFacts): string[] {
  const out = new Set<string>();
  if (f.idLink) out.add(f.idLink);
  const serialId = f.model && f.serial ? udevSafe(`${f.model}_${f.serial}`) : undefined;
  const wwn = f.wwn ? hexWwn(f.wwn) : undefined;
  switch (f.transport) {
    case 'sata':
    case 'ata':
      if (serialId) out.add(`ata-${serialId}`);
      break;
    case 'nvme': {
      // systemd 254 and later add the namespace: nvme-MODEL_SERIAL_1.
      const ns = /n(\d+)$/.exec(f.name)?.[1];
      if (serialId) out.add(`nvme-${serialId}`);
      if (serialId && ns) out.add(`nvme-${serialId}_${ns}`);
      if (f.wwn && /^(eui|nvme|uuid)\./i.test(f.wwn)) out.add(`nvme-${f.wwn}`);
      break;
    }
    case 'sas':
    case 'fc':
    case 'iscsi':
      // scsi_id's ID_SERIAL for a device with an NAA identifier is "3" followed by it.
      if (wwn && /^[0-9a-f]{16,32}$/.test(wwn)) out.add(`scsi-3${wwn}`);
      if (f.vendor && f.model && f.serial) out.add(`scsi-S${udevSafe(`${f.vendor}_${f.model}_${f.serial}`)}`);
      break;
    case 'usb': {
      const lun = f.hctl?.split(':')[3] ?? '0';
      const id = [f.vendor, f.model, f.serial].filter(Boolean).join('_');
      if (id) out.add(`usb-${udevSafe(id)}-0:${lun}`);
      break;
    }
    case 'virtio':
      if (f.serial) out.add(`virtio-${udevSafe(f.serial)}`);
      break;
  }
  if (wwn && f.transport !== 'nvme' && f.transport !== 'usb' && /^[0-9a-f]{16,32}$/.test(wwn)) out.add(`wwn-0x${wwn}`);
  return [...out];
}

const PCI = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** by-path names path_id gives a disk at this sysfs path (both the older and the newer systemd spellings). */
export function deriveByPath(f: NameFacts): string[] {
  if (!f.sysPath) return [];
  const parts = f.sysPath.split('/').filter(Boolean);
  const blockAt = parts.lastIndexOf('block');
  const dev = blockAt > 0 ? parts.slice(0, blockAt) : parts;
  const pciAt = dev.map((c) => PCI.test(c)).lastIndexOf(true);
  if (pciAt < 0) return [];
  const pci = `pci-${dev[pciAt]}`;
  const below = dev.slice(pciAt + 1);
  if (f.transport === 'nvme') {
    const ns = /n(\d+)$/.exec(f.name)?.[1];
    return ns ? [`${pci}-nvme-${ns}`] : [];
  }
  if (f.transport === 'virtio' || below.some((c) => /^virtio\d+$/.test(c))) {
    if (f.hctl && below.some((c) => /^host\d+$/.test(c))) {
      const [, ch, t, l] = f.hctl.split(':');
      return [`${pci}-scsi-0:${ch}:${t}:${l}`];
    }
    return [pci, `virtio-${pci}`];
  }
  const ata = below.find((c) => /^ata\d+$/.test(c));
  if (ata) {
    const port = ata.slice(3);
    return [`${pci}-ata-${port}`, `${pci}-ata-${port}.0`];
  }
  const usbIface = below.find((c) => /^\d+-[\d.]+:\d+\.\d+$/.test(c));
  if (usbIface) {
    const [ports, conf] = usbIface.split(':') as [string, string];
    const port = ports.slice(ports.indexOf('-') + 1);
    const lun = f.hctl?.split(':')[3] ?? '0';
    return [`${pci}-usb-0:${port}:${conf}-scsi-0:0:0:${lun}`];
  }
  if (f.sasAddress && f.hctl) return [`${pci}-sas-${f.sasAddress}-lun-${f.hctl.split(':')[3] ?? '0'}`];
  if (f.hctl) {
    const [, ch, t, l] = f.hctl.split(':');
    return [`${pci}-scsi-0:${ch}:${t}:${l}`];
  }
  return [];
}

/** Every link in a /dev/disk/by-* directory, by the device it leads to; undefined when the directory does not exist (no udev). */
export async function readLinks(dir: string): Promise<Map<string, string[]> | undefined> {
  const names = await readdir(dir).catch(() => undefined);
  if (!names) return undefined;
  const byDevice = new Map<string, string[]>();
  for (const n of names.sort()) {
    const dev = await realpath(join(dir, n)).catch(() => undefined);
    if (dev) byDevice.set(dev, [...(byDevice.get(dev) ?? []), n]);
  }
  return byDevice;
}

/** Where a block device sits in sysfs, and a SAS end device's address when it is behind one. */
export async function sysfsFacts(name: string): Promise<Pick<NameFacts, 'sysPath' | 'sasAddress'>> {
  const sysPath = await realpath(`/sys/class/block/${name}`).catch(() => undefined);
  const end = sysPath?.split('/').find((c) => /^end_device-[\d:]+$/.test(c));
  const sasAddress = end
    ? await readFile(`/sys/class/sas_device/${end}/sas_address`, 'utf8').then(
        (t) => t.trim(),
        () => undefined,
      )
    : undefined;
  return { sysPath, sasAddress };
}

/** `/dev/disk/by-id/x` -> `{ kind: 'by-id', name: 'x' }`; undefined for any other path. */
export function stableName(path: string): { kind: 'by-id' | 'by-path'; name: string } | undefined {
  const m = /^\/dev\/disk\/(by-id|by-path)\/([^/]+)$/.exec(path);
  return m ? { kind: m[1] as 'by-id' | 'by-path', name: m[2]! } : undefined;
}
