// The BCD store bcdboot would write for one UEFI Windows install on a GPT
// disk, built as a registry hive with regf.ts (see docs/windows.md, "The BCD
// store").
//
// Objects written, and why:
//   {bootmgr}              the Windows Boot Manager bootmgfw.efi reads first.
//   <loader>               the OS loader (winload.efi) of the new install.
//   <resume>               its resume (hibernation) application, which the loader
//                          names in 23000003 as bcdboot does; without it, resuming
//                          from hibernation has nothing to run.
//   {globalsettings}, {bootloadersettings}, {resumeloadersettings},
//   {dbgsettings}, {emssettings}, {badmemory}, {hypervisorsettings}
//                          the inherit chain: loader -> bootloadersettings ->
//                          globalsettings (+ hypervisorsettings) -> dbgsettings,
//                          emssettings, badmemory. bcdboot copies these from
//                          BCD-Template; the values here are those of the public
//                          BCD-SYS project's Windows 10/11 template (its
//                          Templates/winload.reg).
// Left out: {memdiag} (memtest.efi, a tool entry, 24000010 toolsdisplayorder),
// the recovery store (EFI/Microsoft/Recovery/BCD) and {fwbootmgr}: none is
// needed to start the loader.
//
// Boot-tested: none of this yet (no Windows image here). Element values
// marked "unverified" below come from BCD-SYS (winload.sh / winload.reg),
// not from a store written by bcdboot itself.
//
// Note: {dbgsettings} is {4636856e-540f-4170-a130-a84776f4c654};
// {resumeloadersettings} is {1afa9c49-16ab-4a5c-901b-212802da9460}.

import { randomUUID } from 'node:crypto';
import { bracedGuid, guidToBytes, normalizeGuid } from './guid.ts';
import { buildHive, type RegKey, type RegValue } from './regf.ts';

export const BCD_GUIDS = {
  bootmgr: '9dea862c-5cdd-4e70-acc1-f32b344d4795',
  globalsettings: '7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e',
  bootloadersettings: '6efb52bf-1766-41db-a6b3-0ee5eff72bd7',
  resumeloadersettings: '1afa9c49-16ab-4a5c-901b-212802da9460',
  hypervisorsettings: '7ff607e0-4395-11db-b0de-0800200c9a66',
  dbgsettings: '4636856e-540f-4170-a130-a84776f4c654',
  emssettings: '0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9',
  badmemory: '5189b25c-5558-4bf2-bca4-289b11bd29e2',
} as const;

/** Object types (Description\Type). */
export const BCD_OBJECT_TYPES = {
  bootManager: 0x10100002, // Windows Boot Manager application
  osLoader: 0x10200003, // Windows boot loader
  resume: 0x10200004, // Windows resume application
  inheritLibrary: 0x20100000, // inheritable settings for any application
  inheritOsLoader: 0x20200003, // inheritable settings for OS loaders
  inheritResume: 0x20200004, // inheritable settings for resume applications
} as const;

/** Element ids used here (name = what bcdedit shows). */
export const BCD_ELEMENTS = {
  device: 0x11000001, // ApplicationDevice
  path: 0x12000002, // ApplicationPath
  description: 0x12000004,
  locale: 0x12000005, // PreferredLocale
  inherit: 0x14000006, // InheritedObjects
  debugType: 0x15000011,
  isolatedContext: 0x16000060, // IsolatedExecutionContext
  bootEms: 0x16000020,
  allowedInMemorySettings: 0x17000077,
  osDevice: 0x21000001, // OS loader: OSDevice; resume: HiberFileDevice
  systemRoot: 0x22000002, // OS loader: SystemRoot; resume: HiberFilePath
  defaultOrResume: 0x23000003, // boot manager: DefaultObject; OS loader: AssociatedResumeObject
  resumeObject: 0x23000006, // boot manager: ResumeObject
  displayOrder: 0x24000001,
  timeout: 0x25000004,
  resumeBootMenuPolicy: 0x25000008,
  nx: 0x25000020,
  bootMenuPolicy: 0x250000c2,
  hypervisorDebugType: 0x250000f3,
  hypervisorDebugPort: 0x250000f4,
  hypervisorBaudrate: 0x250000f5,
} as const;

export type ElementData = Uint8Array | string | readonly string[] | bigint | number | boolean | readonly (bigint | number)[];

/**
 * The GPT partition device element (88 bytes): 16 zero bytes; u32 device type
 * 6 (partition); u32 flags 0; u64 length 0x48; the partition's unique GUID;
 * u32 0; u32 partition style 0 (GPT); the disk's GUID; 16 zero bytes. GUIDs
 * in on-disk mixed-endian order.
 */
export function partitionDeviceElement(partGuid: string, diskGuid: string): Buffer {
  const b = Buffer.alloc(88);
  b.writeUInt32LE(6, 16);
  b.writeUInt32LE(0, 20);
  b.writeBigUInt64LE(0x48n, 24);
  guidToBytes(partGuid).copy(b, 32);
  b.writeUInt32LE(0, 48);
  b.writeUInt32LE(0, 52); // partition style: GPT
  guidToBytes(diskGuid).copy(b, 56);
  return b;
}

/**
 * The registry value of one element. The element id's format nibble (bits
 * 24-27) decides how it is stored: 1 device, 5 integer, 6 boolean and 7
 * integer list as REG_BINARY (integers 8 bytes little-endian, booleans 1
 * byte); 2 string and 3 object as REG_SZ; 4 object list as REG_MULTI_SZ.
 */
export function elementValue(id: number, data: ElementData): RegValue {
  const hex = elementKeyName(id);
  const format = (id >>> 24) & 0xf;
  const bad = (want: string) => new Error(`BCD element ${hex}: expected ${want}, got ${typeof data}`);
  const u64 = (n: bigint | number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n), 0);
    return b;
  };
  switch (format) {
    case 1:
      if (!(data instanceof Uint8Array)) throw bad('device bytes');
      return { name: 'Element', type: 'REG_BINARY', data };
    case 2:
      if (typeof data !== 'string') throw bad('a string');
      return { name: 'Element', type: 'REG_SZ', data };
    case 3:
      if (typeof data !== 'string') throw bad('an object GUID');
      return { name: 'Element', type: 'REG_SZ', data: bracedGuid(data) };
    case 4:
      if (!Array.isArray(data)) throw bad('a list of object GUIDs');
      return { name: 'Element', type: 'REG_MULTI_SZ', data: (data as readonly string[]).map((g) => bracedGuid(g)) };
    case 5:
      if (typeof data !== 'number' && typeof data !== 'bigint') throw bad('an integer');
      return { name: 'Element', type: 'REG_BINARY', data: u64(data) };
    case 6:
      if (typeof data !== 'boolean') throw bad('a boolean');
      return { name: 'Element', type: 'REG_BINARY', data: Buffer.from([data ? 1 : 0]) };
    case 7:
      if (!Array.isArray(data)) throw bad('a list of integers');
      return { name: 'Element', type: 'REG_BINARY', data: Buffer.concat((data as readonly (bigint | number)[]).map(u64)) };
    default:
      throw new Error(`BCD element ${hex}: unknown element format ${format}`);
  }
}

/** Elements\<8 lowercase hex digits>. */
export function elementKeyName(id: number): string {
  return (id >>> 0).toString(16).padStart(8, '0');
}

function bcdObject(guid: string, type: number, elements: [number, ElementData][]): RegKey {
  return {
    name: bracedGuid(guid),
    children: [
      { name: 'Description', values: [{ name: 'Type', type: 'REG_DWORD', data: type }] },
      {
        name: 'Elements',
        children: elements.map(([id, data]) => ({ name: elementKeyName(id), values: [elementValue(id, data)] })),
      },
    ],
  };
}

export interface BcdStoreOptions {
  /** GPT disk GUID of the disk holding both partitions. */
  diskGuid: string;
  /** Unique partition GUID of the EFI system partition. */
  espPartitionGuid: string;
  /** Unique partition GUID of the Windows (NTFS) partition. */
  windowsPartitionGuid: string;
  /** GUID of the OS loader object (default: random). */
  loaderGuid?: string;
  /** GUID of the resume application object (default: random). */
  resumeGuid?: string;
  /** Preferred locale (default "en-us"). */
  locale?: string;
  /** Loader description shown in the boot menu (default "Windows"). */
  description?: string;
  /** Boot manager timeout (default 30, as bcdboot). */
  timeoutSeconds?: number;
  /** Timestamp written into the hive (default: now). */
  timestamp?: Date;
}

export interface BcdStorePlan {
  tree: RegKey;
  loaderGuid: string;
  resumeGuid: string;
}

/** The key tree of the store, plus the object GUIDs used. */
export function bcdStoreTree(options: BcdStoreOptions): BcdStorePlan {
  const loaderGuid = normalizeGuid(options.loaderGuid ?? randomUUID());
  const resumeGuid = normalizeGuid(options.resumeGuid ?? randomUUID());
  if (loaderGuid === resumeGuid) throw new Error('BCD: loader and resume objects need different GUIDs');
  for (const g of [loaderGuid, resumeGuid]) {
    if ((Object.values(BCD_GUIDS) as string[]).includes(g)) throw new Error(`BCD: ${g} is a well-known object GUID`);
  }
  const locale = options.locale ?? 'en-us';
  const description = options.description ?? 'Windows';
  const timeout = options.timeoutSeconds ?? 30;
  if (!Number.isInteger(timeout) || timeout < 0) throw new Error(`BCD: timeout must be a non-negative integer, got ${timeout}`);
  if (!/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(locale)) throw new Error(`BCD: bad locale ${JSON.stringify(locale)}`);

  if (normalizeGuid(options.espPartitionGuid) === normalizeGuid(options.windowsPartitionGuid)) {
    throw new Error('BCD: the ESP and the Windows partition must be different partitions');
  }
  const esp = partitionDeviceElement(options.espPartitionGuid, options.diskGuid);
  const win = partitionDeviceElement(options.windowsPartitionGuid, options.diskGuid);
  const E = BCD_ELEMENTS;
  const G = BCD_GUIDS;
  const T = BCD_OBJECT_TYPES;

  const objects: RegKey[] = [
    bcdObject(G.bootmgr, T.bootManager, [
      [E.device, esp],
      [E.path, '\\EFI\\Microsoft\\Boot\\bootmgfw.efi'],
      [E.description, 'Windows Boot Manager'],
      [E.locale, locale],
      [E.inherit, [G.globalsettings]],
      [E.defaultOrResume, loaderGuid], // default
      [E.resumeObject, resumeGuid],
      [E.displayOrder, [loaderGuid]],
      [E.timeout, timeout],
    ]),
    bcdObject(loaderGuid, T.osLoader, [
      [E.device, win],
      [E.path, '\\Windows\\system32\\winload.efi'],
      [E.description, description],
      [E.locale, locale],
      [E.inherit, [G.bootloadersettings]],
      [E.isolatedContext, true], // unverified (BCD-SYS, UEFI, Windows 8+): isolatedcontext Yes
      [E.allowedInMemorySettings, [0x15000075]], // unverified (BCD-SYS): allowedinmemorysettings 0x15000075
      [E.osDevice, win],
      [E.systemRoot, '\\Windows'],
      [E.defaultOrResume, resumeGuid], // resumeobject
      [E.nx, 0], // unverified (BCD-SYS): nx OptIn
      [E.bootMenuPolicy, 1], // unverified (BCD-SYS): bootmenupolicy Standard
    ]),
    bcdObject(resumeGuid, T.resume, [
      [E.device, win],
      [E.path, '\\Windows\\system32\\winresume.efi'],
      [E.description, 'Windows Resume Application'],
      [E.locale, locale],
      [E.inherit, [G.resumeloadersettings]],
      [E.isolatedContext, true], // unverified (BCD-SYS)
      [E.allowedInMemorySettings, [0x15000075]], // unverified (BCD-SYS)
      [E.osDevice, win], // filedevice
      [E.systemRoot, '\\hiberfil.sys'], // filepath
      [E.resumeBootMenuPolicy, 1], // unverified (BCD-SYS): bootmenupolicy Standard
    ]),
    bcdObject(G.globalsettings, T.inheritLibrary, [[E.inherit, [G.dbgsettings, G.emssettings, G.badmemory]]]),
    bcdObject(G.dbgsettings, T.inheritLibrary, [[E.debugType, 4]]), // debugtype Local
    bcdObject(G.emssettings, T.inheritLibrary, [[E.bootEms, false]]),
    bcdObject(G.badmemory, T.inheritLibrary, []),
    bcdObject(G.bootloadersettings, T.inheritOsLoader, [[E.inherit, [G.globalsettings, G.hypervisorsettings]]]),
    bcdObject(G.hypervisorsettings, T.inheritOsLoader, [
      [E.hypervisorDebugType, 0], // serial
      [E.hypervisorDebugPort, 1],
      [E.hypervisorBaudrate, 115200],
    ]),
    bcdObject(G.resumeloadersettings, T.inheritResume, [[E.inherit, [G.globalsettings]]]),
  ];

  const tree: RegKey = {
    name: 'NewStoreRoot',
    children: [
      {
        name: 'Description',
        values: [
          { name: 'KeyName', type: 'REG_SZ', data: 'BCD00000000' },
          { name: 'System', type: 'REG_DWORD', data: 1 },
          // Optional; system stores are reported to carry it (unverified here).
          { name: 'TreatAsSystem', type: 'REG_DWORD', data: 1 },
        ],
      },
      { name: 'Objects', children: objects },
    ],
  };
  return { tree, loaderGuid, resumeGuid };
}

/** The BCD hive file (EFI/Microsoft/Boot/BCD) for one UEFI Windows install on a GPT disk. */
export function buildBcdStore(options: BcdStoreOptions): Buffer {
  const { tree } = bcdStoreTree(options);
  return buildHive(tree, { timestamp: options.timestamp });
}
