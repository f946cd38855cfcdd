/**
 * The OS image the VM tests install (lib/fixture-os.ts): a kernel, GRUB for UEFI and cloud-init, owners kept, and
 * configured to boot headless on serial. Cheap once cached; the VM tests prove the rest by booting it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingPrerequisite } from '../helpers/env.ts';
import { buildFixtureRootfs, readFixtureMeta } from './lib/fixture-os.ts';
import { progress } from './lib/log.ts';
import { sh } from './lib/sh.ts';

const skip = missingPrerequisite(['debootstrap', 'zstd']);
if (skip) process.stderr.write(`\n*** SKIPPING the fixture OS test: ${skip} ***\n\n`);

test('fixture rootfs tarball has a kernel, GRUB for UEFI and cloud-init, owners kept', { skip, timeout: 40 * 60_000 }, async () => {
  const t0 = Date.now();
  const tarball = await buildFixtureRootfs();
  const meta = await readFixtureMeta(tarball);
  progress(`fixture rootfs ${tarball}: ${meta.tarballBytes >> 20} MiB packed, ${meta.unpackedBytes >> 20} MiB unpacked (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  const listing = await sh(['tar', '--zstd', '--numeric-owner', '-tvf', tarball]);
  const names = listing.split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
  assert.ok(
    names.some((n) => /^\.\/boot\/vmlinuz-\S+$/.test(n)),
    'boot/vmlinuz-*',
  );
  assert.ok(
    names.some((n) => n.startsWith('./usr/lib/grub/x86_64-efi/')),
    'usr/lib/grub/x86_64-efi',
  );
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
