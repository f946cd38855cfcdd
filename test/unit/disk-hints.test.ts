import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { wipeProblems, type DiskContents } from '../../ops/disk-contents.ts';
import { chooseByHints, HintsRefused, parseHintsText, type DiskHints } from '../../ops/disk-hints.ts';
import { chooseTarget } from '../../ops/disk-target.ts';
import { DiskError, disksOf, parseLsblk, type DiskFacts } from '../../ops/disks.ts';
import { parseKernelArgs } from '../../ops/kargs.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { makePlan } from '../../ops/plan.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import { parseRecipe, RecipeError, type Recipe } from '../../ops/recipe.ts';
import { makeStatusReport, reportedTarget } from '../../ops/report.ts';
import { parseConf } from '../../ops/settings.ts';

const FIXTURES = new URL('../fixtures/lsblk/', import.meta.url);

/** A machine shape from canned `lsblk --json --bytes --output-all` output and the sysfs paths of its disks (no udev links). */
async function shape(name: string): Promise<DiskFacts[]> {
  const devices = parseLsblk(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
  const sysfs = JSON.parse(readFileSync(new URL(`${name}.sysfs.json`, FIXTURES), 'utf8')) as Record<string, string>;
  return disksOf(devices, {
    swaps: [],
    holders: async () => [],
    sysfs: async (dev) => {
      const sysPath = sysfs[dev];
      const end = sysPath?.split('/').find((c) => c.startsWith('end_device-'));
      return { sysPath, sasAddress: end ? sysfs[`sas:${end}`] : undefined };
    },
  });
}

const byName = (disks: DiskFacts[], name: string) => disks.find((d) => d.name === name)!;

function refused(fn: () => unknown): HintsRefused {
  try {
    fn();
  } catch (e) {
    if (e instanceof HintsRefused) return e;
    throw e;
  }
  assert.fail('the hints were not refused');
}

const MACHINE: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SRV-1' };
const recipe = (extra: Record<string, unknown>): Recipe =>
  parseRecipe({
    task_target: 'install-linux.target',
    oci_url: 'registry.test:5000/os-images/debian:12',
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
      { size: '100%', format: 'ext4', mountpoint: '/' },
    ],
    ...extra,
  });

test('facts from lsblk: SATA, SAS, NVMe, USB and virtio disks get transport, ids and the by-id/by-path names udev would give them', async () => {
  const sata = byName(await shape('sata'), 'sda');
  assert.equal(sata.transport, 'sata');
  assert.equal(sata.rotational, false);
  assert.equal(sata.vendor, 'ATA');
  assert.equal(sata.hctl, '0:0:0:0');
  assert.deepEqual(sata.byId, ['ata-SAMSUNG_MZ7LH480HAHQ-00005_S45NNA0M123456', 'wwn-0x5002538e40a1b2c3']);
  assert.deepEqual(sata.byPath, ['pci-0000:00:17.0-ata-1', 'pci-0000:00:17.0-ata-1.0']);
  assert.equal(byName(await shape('sata'), 'sdb').rotational, true);

  const sas = byName(await shape('sas'), 'sda');
  assert.ok(sas.byId?.includes('scsi-35000c500b1c2d3e4'), String(sas.byId));
  assert.ok(sas.byId?.includes('wwn-0x5000c500b1c2d3e4'));
  assert.deepEqual(sas.byPath, ['pci-0000:02:00.0-sas-0x5000c500b1c2d3e5-lun-0']);

  const nvme = byName(await shape('nvme'), 'nvme0n1');
  assert.equal(nvme.transport, 'nvme');
  assert.deepEqual(nvme.byId, ['nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R500001', 'nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R500001_1', 'nvme-eui.36344730525000010025384500000001']);
  assert.deepEqual(nvme.byPath, ['pci-0000:3b:00.0-nvme-1']);

  const usb = await shape('usb');
  assert.equal(byName(usb, 'sdc').removable, true);
  assert.deepEqual(byName(usb, 'sdc').byId, ['usb-SanDisk_Cruzer_Blade_4C530001230518118025-0:0']);
  assert.deepEqual(byName(usb, 'sdc').byPath, ['pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0']);
  assert.deepEqual(byName(usb, 'sdd').byPath, ['pci-0000:00:14.0-usb-0:2.1:1.0-scsi-0:0:0:0']);
  assert.equal(byName(usb, 'sdd').removable, false);

  const vdb = byName(await shape('virtio'), 'vdb');
  assert.equal(vdb.transport, 'virtio');
  assert.deepEqual(vdb.byId, ['virtio-SHOAL-TARGET']);
  assert.deepEqual(vdb.byPath, ['pci-0000:00:05.0', 'virtio-pci-0000:00:05.0']);
});

test("a BMC's virtual CDs are not disks; its virtual disk is removable media and never matches, even by its own serial", async () => {
  const bmc = await shape('bmc');
  assert.deepEqual(bmc.map((d) => d.name).sort(), ['loop0', 'sda', 'sdb']);
  const e = refused(() => chooseByHints({ serial: 'AAAABBBBCCCC3' }, bmc));
  assert.match(e.message, /match no disk/);
  assert.match(e.message, /\/dev\/sdb: removable media/);
  assert.match(e.message, /\/dev\/loop0: read-only/);
  assert.match(e.message, /\/dev\/sda: serial is "S45NNA0M654321", not "AAAABBBBCCCC3"/);
  assert.equal(chooseByHints({ transport: 'sata' }, bmc).disk.path, '/dev/sda');
});

test('hints pick exactly one disk by serial, wwn (with or without 0x, NVMe EUI), model glob, size range, rotational, transport, hctl, by_path, name', async () => {
  const sata = await shape('sata');
  const pick = (h: DiskHints, disks = sata) => chooseByHints(h, disks).disk.name;
  assert.equal(pick({ serial: 'S45NNA0M123456' }), 'sda');
  assert.equal(pick({ wwn: '5000C500A1B2C3D4' }), 'sdb');
  assert.equal(pick({ model: 'ST2000*' }), 'sdb');
  assert.equal(pick({ size: ['>= 400G', '<= 1T'] }), 'sda');
  assert.equal(pick({ size: '> 1T' }), 'sdb');
  assert.equal(pick({ rotational: true }), 'sdb');
  assert.equal(pick({ hctl: '1:0:0:0' }), 'sdb');
  assert.equal(pick({ by_path: '/dev/disk/by-path/pci-0000:00:17.0-ata-1' }), 'sda');
  assert.equal(pick({ name: '/dev/sdb' }), 'sdb');
  assert.equal(pick({ wwn: 'eui.36344730526000020025384500000001' }, await shape('nvme')), 'nvme1n1');
  assert.equal(pick({ transport: 'virtio', serial: 'SHOAL-TARGET' }, await shape('virtio')), 'vdb');
  assert.equal(pick({ transport: 'usb' }, await shape('usb')), 'sdd');
  const c = chooseByHints({ serial: 'S45NNA0M123456', transport: 'sata' }, sata);
  assert.match(c.why, /the only disk matching serial:S45NNA0M123456,transport:sata/);
  assert.deepEqual(c.ruledOut, [{ path: '/dev/sdb', reasons: ['serial is "ZC20AB12", not "S45NNA0M123456"'] }]);
});

test('several matches are refused listing the candidates, unless pick chooses; equal sizes cannot be picked between', async () => {
  const sata = await shape('sata');
  const e = refused(() => chooseByHints({ transport: 'sata' }, sata));
  assert.match(e.message, /match 2 disks/);
  assert.match(e.message, /\/dev\/sda: 447 GiB, sata, model "SAMSUNG MZ7LH480HAHQ-00005", serial "S45NNA0M123456"/);
  assert.match(e.message, /\/dev\/sdb: 1\.8 TiB, sata/);
  assert.equal(chooseByHints({ transport: 'sata', pick: 'smallest' }, sata).disk.name, 'sda');
  const largest = chooseByHints({ transport: 'sata', pick: 'largest' }, sata);
  assert.equal(largest.disk.name, 'sdb');
  assert.match(largest.why, /the largest of 2 disks/);
  const sas = await shape('sas');
  const tie = refused(() => chooseByHints({ model: 'ST1200MM0099', pick: 'largest' }, sas));
  assert.match(tie.message, /same largest size/);
});

test('no match is refused listing every disk with the facts that ruled it out', async () => {
  const sasDisks = await shape('sas');
  const e = refused(() => chooseByHints({ serial: 'NOPE', size: '>= 1T' }, sasDisks));
  assert.equal(e.ruledOut.length, 2);
  assert.match(e.message, /\/dev\/sda: serial is "WFK0A1B2", not "NOPE"$/m);
  assert.ok(e instanceof DiskError, 'a refusal: exit 3 like any disk refusal');
});

test('multipath duplicates: each path of the same LUN is ruled out as a path of its multipath device, never installed onto', async () => {
  const mp = await shape('multipath');
  assert.equal(byName(mp, 'sda').multipathOf, 'mpatha');
  assert.equal(byName(mp, 'sda').wwn, byName(mp, 'sdb').wwn);
  const e = refused(() => chooseByHints({ serial: '50403EC10055' }, mp));
  assert.match(e.message, /\/dev\/sda: one path of multipath device mpatha/);
  assert.match(e.message, /\/dev\/sdb: one path of multipath device mpatha/);
  assert.equal(chooseByHints({ size: '>= 400G' }, mp).disk.name, 'sdc');
});

test('shoal.disk_hints= and shoal.conf: KEY:VALUE,... parsed by the recipe schema, bad words named', () => {
  assert.deepEqual(parseHintsText('serial:ABC123,size:>=400G,size:<=2T,rotational:0,pick:largest').hints, {
    serial: 'ABC123',
    size: ['>=400G', '<=2T'],
    rotational: false,
    pick: 'largest',
  });
  const ok = parseKernelArgs('quiet shoal.disk_hints=serial:ABC123,size:>=400G');
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.args.diskHints, { serial: 'ABC123', size: ['>=400G'] });
  assert.deepEqual(parseConf('# job 4711\nshoal.disk_hints=wwn:0x5000c500a1b2c3d4,pick:smallest\n', 'shoal.conf on the task ISO').values.disk_hints, {
    wwn: '0x5000c500a1b2c3d4',
    pick: 'smallest',
  });
  for (const bad of ['shoal.disk_hints=colour:red', 'shoal.disk_hints=size:big', 'shoal.disk_hints=transport:floppy', 'shoal.disk_hints=pick:largest', 'shoal.disk_hints']) {
    const r = parseKernelArgs(bad);
    assert.equal(r.problems.length, 1, bad);
    assert.match(r.problems[0]!, /^shoal\.disk_hints/, bad);
  }
});

test('recipe: target_disk may be left out with target_disk_hints; neither, an empty hints object or a bad size test is refused naming the field', () => {
  assert.deepEqual(recipe({ target_disk_hints: { serial: 'X' } }).target_disk_hints, { serial: 'X' });
  assert.equal(recipe({ target_disk: '/dev/sda' }).target_disk_hints, undefined);
  const problems = (extra: Record<string, unknown>) => {
    try {
      recipe(extra);
    } catch (e) {
      if (e instanceof RecipeError) return e.problems.join('\n');
      throw e;
    }
    return '';
  };
  assert.match(problems({}), /\$\.target_disk: required/);
  assert.match(problems({ target_disk_hints: {} }), /\$\.target_disk_hints: at least one criterion/);
  assert.match(problems({ target_disk_hints: { size: '400G' } }), /\$\.target_disk_hints\.size: .*operator/);
  assert.match(problems({ target_disk_hints: { serial: 'X', speed: 'fast' } }), /\$\.target_disk_hints/);
  assert.match(problems({ target_disk: '/dev/sda', wipe: 'sometimes' }), /\$\.wipe/);
});

test('target_disk and hints must name the same disk; by-id and by-path names resolve from the facts where no link exists', async () => {
  const deps = { listDisks: async () => shape('sata') };
  const agree = await chooseTarget('/dev/sda', { serial: 'S45NNA0M123456' }, deps);
  assert.equal(agree.path, '/dev/sda');
  assert.match(agree.why, /target_disk \/dev\/sda names the same disk/);
  await assert.rejects(
    chooseTarget('/dev/sdb', { serial: 'S45NNA0M123456' }, deps),
    (e: Error) => e instanceof DiskError && /disagree: the hints chose \/dev\/sda/.test(e.message),
  );
  const byId = await chooseTarget('/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', undefined, deps);
  assert.deepEqual([byId.path, byId.how, byId.given], ['/dev/sdb', 'facts', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4']);
  const byPath = await chooseTarget('/dev/disk/by-path/pci-0000:00:17.0-ata-1', { rotational: false }, deps);
  assert.equal(byPath.path, '/dev/sda');
  await assert.rejects(chooseTarget('/dev/disk/by-id/ata-NOPE', undefined, deps), /names no disk on this machine; the by-id names here are:\n.*\/dev\/sda: ata-SAMSUNG/);
  const mp = { listDisks: async () => shape('multipath') };
  await assert.rejects(chooseTarget('/dev/disk/by-id/wwn-0x60060e8007c3e1000030c3e100000055', undefined, mp), /names 2 disks \(\/dev\/sda, \/dev\/sdb\).*multipath/);
});

test('the plan shows the name given, the device it resolved to, why, and the disks ruled out; the webhook report carries the choice', async () => {
  const disks = await shape('sata');
  const r = recipe({ target_disk: '/dev/disk/by-id/wwn-0x5002538e40a1b2c3', target_disk_hints: { size: '>= 400G', rotational: false } });
  const target = await chooseTarget(r.target_disk, r.target_disk_hints, { listDisks: async () => disks });
  const plan = makePlan(r, byName(disks, 'sda'), MACHINE, { target });
  const text = renderPlan(plan);
  assert.match(text, /named: \/dev\/disk\/by-id\/wwn-0x5002538e40a1b2c3 -> \/dev\/sda/);
  assert.match(text, /chosen: the only disk matching size:>=400G,rotational:false; target_disk .* names the same disk/);
  assert.match(text, /not \/dev\/sdb: rotational is true, not false/);
  const report = makeStatusReport({ status: 'success', target_disk: reportedTarget(plan) });
  assert.deepEqual(report.target_disk, {
    path: '/dev/sda',
    given: '/dev/disk/by-id/wwn-0x5002538e40a1b2c3',
    chosen_by: 'hints',
    hints: 'size:>=400G,rotational:false',
    why: target.why,
    serial: 'S45NNA0M123456',
    wwn: '0x5002538e40a1b2c3',
  });
  const plain = recipe({ target_disk: '/dev/sda' });
  const plainPlan = makePlan(plain, byName(disks, 'sda'), MACHINE, { target: await chooseTarget('/dev/sda', undefined) });
  assert.ok(
    !('target_disk' in makeStatusReport({ status: 'success', target_disk: reportedTarget(plainPlan) })),
    'a recipe naming /dev/sda reports only the contract fields, as before',
  );
});

const contents = (volumes: DiskContents['volumes']): DiskContents => ({ examined: true, partitionTable: volumes.length ? 'gpt' : undefined, volumes });
const debian = { device: '/dev/sda2', sizeBytes: 1e9, fstype: 'ext4', os: { kind: 'linux' as const, id: 'debian', name: 'Debian GNU/Linux 12 (bookworm)' } };

test('wipe guard: empty-or-same refuses another OS and data without an OS; allows nothing or the same OS; no guard erases as before', async () => {
  const sasDisks = await shape('sas');
  const guarded = recipe({ target_disk: '/dev/sda', wipe: 'empty-or-same' });
  assert.deepEqual(wipeProblems(guarded, '/dev/sda', contents([])), []);
  assert.deepEqual(wipeProblems(guarded, '/dev/sda', contents([debian])), []);
  const ubuntu = recipe({ target_disk: '/dev/sda', wipe: 'empty-or-same', oci_url: 'controller:8080/os-images/ubuntu-rootfs:22.04' });
  assert.match(wipeProblems(ubuntu, '/dev/sda', contents([debian])).join(), /holds Debian GNU\/Linux 12 \(bookworm\) \(ID debian\), not the OS being installed \(ubuntu rootfs/);
  const data = { device: '/dev/sda1', sizeBytes: 1e9, fstype: 'xfs', label: 'pgdata' };
  assert.match(wipeProblems(guarded, '/dev/sda', contents([data])).join(), /holds data but no OS: \/dev\/sda1 xfs "pgdata"/);
  const windows = { device: '/dev/sda3', sizeBytes: 1e9, fstype: 'ntfs', os: { kind: 'windows' as const, id: 'windows', name: 'Windows Server 2022 Standard' } };
  assert.match(wipeProblems(guarded, '/dev/sda', contents([windows])).join(), /holds Windows Server 2022/);
  assert.match(wipeProblems(guarded, '/dev/sda', { examined: false, note: 'a disk image file', volumes: [] }).join(), /could not be examined/);
  assert.match(wipeProblems(recipe({ target_disk: '/dev/sda', wipe: 'empty' }), '/dev/sda', contents([debian])).join(), /is not empty/);
  assert.deepEqual(wipeProblems(recipe({ target_disk: '/dev/sda' }), '/dev/sda', contents([debian, data])), []);
  const plan = () => makePlan(guarded, byName(sasDisks, 'sda'), MACHINE, { contents: contents([data]) });
  assert.throws(plan, /the plan was refused[\s\S]*holds data but no OS/);
});
