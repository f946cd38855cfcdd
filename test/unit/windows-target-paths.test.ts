// The Windows steps' paths on the applied volume (unattend.xml, boot files, image state) against a fake volume
// holding links out of it (ntfs-3g shows junctions and symlinks as symlinks), with a "host" directory beside it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootFixtures } from '../helpers/root-fixture.ts';
import { StepError, type StepContext } from '../../ops/runner.ts';
import { locateBootFiles } from '../../ops/windows/boot-files.ts';
import { findPath } from '../../ops/windows/ci-path.ts';
import { readImageState } from '../../ops/windows/image-state.ts';
import { placeUnattend } from '../../ops/windows/unattend.ts';

const fixture = rootFixtures('shoal-winpaths-', 'vol');

const up = (abs: string) => `${'../'.repeat(24)}${abs.slice(1)}`;
const logs: string[] = [];
const ctx = {
  log: (m: string) => void logs.push(m),
  exec: () => Promise.reject(new Error('no hivexget here')),
} as unknown as StepContext;
const XML = Buffer.from('<unattend><AdministratorPassword>s3cret</AdministratorPassword></unattend>');

test('unattend.xml: Windows, Panther or the file as links out of the volume never put it on the host', async () => {
  const cases: Record<string, (root: string, host: string) => Promise<void>> = {
    'Windows absolute': (root, host) => symlink(host, join(root, 'Windows')),
    'Panther relative': async (root, host) => {
      await mkdir(join(root, 'Windows'));
      await symlink(up(host), join(root, 'Windows/Panther'));
    },
    'unattend.xml leaf': async (root, host) => {
      await mkdir(join(root, 'Windows/Panther'), { recursive: true });
      await symlink(join(host, 'unattend.xml'), join(root, 'Windows/Panther/unattend.xml'));
    },
  };
  for (const [name, make] of Object.entries(cases)) {
    const { root, host } = await fixture();
    await make(root, host);
    if (name === 'Windows absolute') await mkdir(join(root, host), { recursive: true });
    const rel = await placeUnattend(ctx, root, XML);
    assert.deepEqual(await readdir(host), [], `${name}: nothing on the host`);
    assert.ok((await lstat(join(root, rel))).isFile(), `${name}: ${rel}`);
    assert.deepEqual(await readFile(join(root, rel)), XML);
  }
});

test('case-insensitive lookups resolve links within the volume', async () => {
  const { root, host } = await fixture();
  await mkdir(join(host, 'Boot/EFI'), { recursive: true });
  await writeFile(join(host, 'Boot/EFI/bootmgfw.efi'), 'host');
  await mkdir(join(root, 'Windows'));
  await symlink(host, join(root, 'Windows/Boot'));
  assert.equal(await findPath(root, 'Windows/Boot/EFI/bootmgfw.efi'), undefined, "the host's file is not found through the link");
  await mkdir(join(root, host, 'efi'), { recursive: true });
  await writeFile(join(root, host, 'efi/BOOTMGFW.EFI'), 'image');
  assert.equal(await findPath(root, 'windows/boot/EFI/bootmgfw.efi'), join(root, host, 'efi/BOOTMGFW.EFI'));
});

test('boot files: a link or a FIFO among them is refused (mcopy would copy what it points at)', async () => {
  for (const bad of ['absolute link', 'relative link', 'fifo'] as const) {
    const { root, host } = await fixture();
    await writeFile(join(host, 'secret'), 'host secret');
    const efi = join(root, 'Windows/Boot/EFI');
    await mkdir(join(efi, 'en-US'), { recursive: true });
    await writeFile(join(efi, 'bootmgfw.efi'), 'MZ');
    const odd = join(efi, 'en-US/bootmgr.efi.mui');
    if (bad === 'absolute link') await symlink(join(host, 'secret'), odd);
    if (bad === 'relative link') await symlink(up(`${host}/secret`), odd);
    if (bad === 'fifo') execFileSync('mkfifo', [odd]);
    const err = await locateBootFiles(root).catch((e: unknown) => e);
    assert.ok(err instanceof StepError, `${bad}: ${String(err)}`);
    assert.match(err.message, /the applied image's \/Windows\/Boot\/EFI\/en-US\/bootmgr\.efi\.mui is (a link|not a regular file)/);
  }
});

test('image state: State.ini behind a link out of the volume is not read from the host', async () => {
  const { root, host } = await fixture();
  await writeFile(join(host, 'State.ini'), '[State]\r\nImageState=IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE\r\n');
  await mkdir(join(root, 'Windows/Setup'), { recursive: true });
  await symlink(host, join(root, 'Windows/Setup/State'));
  const state = await readImageState(ctx, root);
  assert.equal(state.state, undefined);
});
