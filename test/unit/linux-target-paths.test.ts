// The Linux steps' paths in the target (GRUB files, bind mounts, mountpoints, the NoCloud seed) against a fake
// root holding hostile symlinks, with a "host" directory beside it that must stay as it was. Commands are recorded,
// not run: what is checked is where they would act.
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootFixtures } from '../helpers/root-fixture.ts';
import { ImageSession } from '../../ops/image-source.ts';
import { configDriveStep } from '../../ops/steps/config-drive.ts';
import { addKernelArgs, checkEsp, grubFlavour, pinGrubCfg } from '../../ops/linux/grub.ts';
import { bindSystemDirs, mountLayout } from '../../ops/linux/mounts.ts';
import type { Plan, PlannedPartition } from '../../ops/plan.ts';
import { StepError, type StepContext } from '../../ops/runner.ts';

const fixture = rootFixtures('shoal-linuxpaths-');

/** Enough `../` to leave any root in the tests and reach `/`. */
const up = '../'.repeat(24);
const rel = (abs: string) => `${up}${abs.slice(1)}`;

/** Every file under `dir` with its content, to compare the host side before and after. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true })) {
    const p = join(dir, e);
    out[e] = (await lstat(p)).isFile() ? await readFile(p, 'utf8') : 'dir';
  }
  return out;
}

interface Fake {
  ctx: StepContext;
  commands: string[][];
  logs: string[];
}

function fakeContext(partitions: Partial<PlannedPartition>[] = [], over: Partial<StepContext> = {}): Fake {
  const commands: string[][] = [];
  const logs: string[] = [];
  const plan = { partitions, machine: { serial: 'SN1', efivars: true }, recipe: { hostname: 'h' } } as unknown as Plan;
  const ctx = {
    plan,
    state: { partitionDevices: Object.fromEntries(partitions.map((p) => [p.number, `/dev/fake${p.number}`])), fsUuids: {} },
    step: 'bootloader-linux.service',
    signal: new AbortController().signal,
    exec: async (argv: string[]) => {
      commands.push(argv);
      return { stdout: '', stderr: '' };
    },
    log: (m: string) => void logs.push(m),
    defer: () => undefined,
    inputs: {},
    ...over,
  } as unknown as StepContext;
  return { ctx, commands, logs };
}

test('GRUB kernel args: etc/default/grub or etc as a symlink out of the image writes inside it', async () => {
  for (const link of ['absolute leaf', 'relative etc'] as const) {
    const { root, host } = await fixture();
    await writeFile(join(host, 'grub'), 'HOST GRUB\n');
    if (link === 'absolute leaf') {
      await mkdir(join(root, 'etc/default'), { recursive: true });
      await symlink(join(host, 'grub'), join(root, 'etc/default/grub'));
    } else {
      await symlink(rel(host), join(root, 'etc'));
    }
    const before = await snapshot(host);
    const { ctx, logs } = fakeContext();
    await addKernelArgs(root, 'console=ttyS0', ctx.log);
    assert.deepEqual(await snapshot(host), before, `${link}: the host side is unchanged`);
    const inImage = link === 'absolute leaf' ? join(root, 'etc/default/grub') : join(root, host, 'default/grub');
    assert.match(await readFile(inImage, 'utf8'), /^GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX console=ttyS0"/m);
    if (link === 'absolute leaf')
      assert.ok(
        logs.some((m) => /\/etc\/default\/grub in the image is a symlink .*replaced/.test(m)),
        logs.join('\n'),
      );
  }
});

test("GRUB kernel args are appended to the image's own etc/default/grub, through its in-image links", async () => {
  // An absolute link to a path the image has (the host has the same path, empty: the test's own directory).
  const { root, host } = await fixture();
  await mkdir(join(root, host), { recursive: true });
  await writeFile(join(root, host, 'grub-defaults'), 'GRUB_TIMEOUT=5\n');
  await mkdir(join(root, 'etc/default'), { recursive: true });
  await symlink(join(host, 'grub-defaults'), join(root, 'etc/default/grub'));
  await addKernelArgs(root, 'quiet', fakeContext().ctx.log);
  assert.deepEqual(await readdir(host), []);
  const text = await readFile(join(root, 'etc/default/grub'), 'utf8');
  assert.match(text, /^GRUB_TIMEOUT=5\n\nGRUB_CMDLINE_LINUX=.* quiet"/);
});

test('GRUB flavour: grub-install on the host behind a usr/sbin symlink does not count', async () => {
  const { root, host } = await fixture();
  await writeFile(join(host, 'grub-install'), '#!/bin/sh\n');
  await mkdir(join(root, 'usr'), { recursive: true });
  await symlink(host, join(root, 'usr/sbin'));
  await symlink(rel(host), join(root, 'sbin'));
  await assert.rejects(grubFlavour(root), (e: Error) => e instanceof StepError && /no grub-install or grub2-install/.test(e.message));
  await mkdir(join(root, 'usr/bin'));
  await writeFile(join(root, 'usr/bin/grub2-install'), '#!/bin/sh\n');
  assert.equal((await grubFlavour(root)).install, 'grub2-install');
});

test('grub.cfg is read and rewritten in the image when boot is a symlink out of it', async () => {
  const { root, host } = await fixture();
  const cfg = (dev: string) => `menuentry 'x' {\n\tlinux /vmlinuz root=${dev} ro\n}\n`;
  await mkdir(join(host, 'grub'));
  await writeFile(join(host, 'grub/grub.cfg'), cfg('/dev/host'));
  await symlink(host, join(root, 'boot'));
  await mkdir(join(root, host, 'grub'), { recursive: true });
  await writeFile(join(root, host, 'grub/grub.cfg'), cfg('/dev/loop0p2'));
  const before = await snapshot(host);
  await pinGrubCfg(root, '/boot/grub/grub.cfg', 'uuid-1', fakeContext().ctx.log);
  assert.deepEqual(await snapshot(host), before);
  assert.equal(await readFile(join(root, host, 'grub/grub.cfg'), 'utf8'), cfg('UUID=uuid-1'));
});

test('the ESP check looks in the image, not through a boot/efi symlink at the host', async () => {
  const { root, host } = await fixture();
  for (const f of ['EFI/debian/grubx64.efi', 'EFI/BOOT/BOOTX64.EFI']) {
    await mkdir(join(host, f, '..'), { recursive: true });
    await writeFile(join(host, f), 'x');
  }
  await mkdir(join(root, 'boot'));
  await symlink(host, join(root, 'boot/efi'));
  await assert.rejects(checkEsp(root, 'debian'), /the ESP does not hold \/boot\/efi\/EFI\/debian\/grubx64.efi/);
});

test('bind mounts: /dev, /proc, /sys, /run land on real directories in the image; a symlinked one is refused', async () => {
  for (const [dir, target] of [
    ['dev', 'absolute'],
    ['run', 'relative'],
  ] as const) {
    const { root, host } = await fixture();
    await symlink(target === 'absolute' ? host : rel(host), join(root, dir));
    const { ctx, commands } = fakeContext();
    const err = await bindSystemDirs(ctx, root, false).catch((e: unknown) => e);
    assert.ok(err instanceof StepError && err.message.startsWith(`/${dir} in the image is a symlink`), String(err));
    assert.ok(
      commands.every((c) => !c.includes(host) && c.every((a) => !a.endsWith(`/${dir}`))),
      JSON.stringify(commands),
    );
  }
  const { root } = await fixture();
  await mkdir(join(root, 'dev'));
  const { ctx, commands } = fakeContext();
  await bindSystemDirs(ctx, root, true);
  assert.deepEqual(
    commands.map((c) => c.at(-1)),
    ['dev', 'proc', 'sys', 'run', 'sys/firmware/efi/efivars'].map((d) => join(root, d)),
  );
  for (const d of ['proc', 'sys', 'run']) assert.ok((await lstat(join(root, d))).isDirectory(), `${d} was made`);
});

test('mountpoints: a symlink in a filesystem mounted before is followed within the target; onto / or a taken dir is refused', async () => {
  const { root, host } = await fixture();
  await symlink(host, join(root, 'var'));
  await symlink(rel(`${host}/srv`), join(root, 'srv'));
  const parts: Partial<PlannedPartition>[] = [
    { number: 1, mountpoint: '/', format: 'ext4' },
    { number: 2, mountpoint: '/var', format: 'xfs' },
    { number: 3, mountpoint: '/srv', format: 'ext4' },
  ];
  const { ctx, commands, logs } = fakeContext(parts);
  await mountLayout(ctx, root);
  assert.deepEqual(
    commands.map((c) => c.at(-1)),
    [root, join(root, host), join(root, host, 'srv')],
  );
  assert.deepEqual(await readdir(host), [], 'nothing made on the host');
  assert.ok(
    logs.some((m) => m === `/var is a symlink in the image: partition 2 is mounted at ${host}`),
    logs.join('\n'),
  );

  for (const [link, expected] of [
    ['/', /\/boot is a symlink in the image to \/, where partition 1 is mounted: partition 2 cannot be mounted there/],
    ['home', /\/boot is a symlink in the image to \/home, where partition 3 is mounted/],
  ] as const) {
    const { root: r2 } = await fixture();
    await symlink(link, join(r2, 'boot'));
    const f = fakeContext([
      { number: 1, mountpoint: '/', format: 'ext4' },
      { number: 3, mountpoint: '/home', format: 'ext4' },
      { number: 2, mountpoint: '/boot', format: 'ext4' },
    ]);
    await assert.rejects(mountLayout(f.ctx, r2), (e: Error) => e instanceof StepError && expected.test(e.message));
  }
});

test('NoCloud seed: var, the seed directory or user-data as symlinks out of the image never put the user-data on the host', async () => {
  const layouts: Record<string, (root: string, host: string) => Promise<void>> = {
    'var absolute': (root, host) => symlink(host, join(root, 'var')),
    'var relative': (root, host) => symlink(rel(host), join(root, 'var')),
    'nocloud dir': async (root, host) => {
      await mkdir(join(root, 'var/lib/cloud/seed'), { recursive: true });
      await symlink(host, join(root, 'var/lib/cloud/seed/nocloud'));
    },
    'user-data leaf': async (root, host) => {
      await mkdir(join(root, 'var/lib/cloud/seed/nocloud'), { recursive: true });
      await symlink(join(host, 'user-data'), join(root, 'var/lib/cloud/seed/nocloud/user-data'));
      await symlink(rel(`${host}/meta-data`), join(root, 'var/lib/cloud/seed/nocloud/meta-data'));
    },
  };
  for (const [name, make] of Object.entries(layouts)) {
    const { root, host } = await fixture();
    await make(root, host);
    const userData = Buffer.from('#cloud-config\npassword: s3cret-in-user-data\n');
    const { ctx } = fakeContext([{ number: 1, mountpoint: '/', format: 'ext4', role: 'root' }], {
      inputs: { userData },
      state: { partitionDevices: {}, fsUuids: {}, targetRoot: root, image: new ImageSession() },
    } as Partial<StepContext>);
    await configDriveStep.run(ctx);
    assert.deepEqual(await readdir(host), [], `${name}: nothing on the host`);
    const found = (await readdir(root, { recursive: true })).filter((e) => e.endsWith('user-data'));
    assert.equal(found.length, 1, `${name}: ${found.join(', ')}`);
    const file = join(root, found[0]!);
    assert.ok((await lstat(file)).isFile());
    assert.deepEqual(await readFile(file), userData);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  }
});
