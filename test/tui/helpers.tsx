/**
 * The console under test: the real App, the real ConsoleSession, the real planner (makePlan, renderPlan) and the
 * real runner (runPlan); only what needs a server is replaced: the disks lsblk would list, the registry, and
 * the step bodies (real commands and real progress meters, but no mkfs on a host disk).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { render } from 'ink-testing-library';
import {
  ConsoleSession,
  RegistryAuthRequired,
  type ConsoleDeps,
  type ImageInfo,
  type MachineInfo,
  type RegistryBrowser,
  type RegistryCredentials,
} from '../../ops/console-session.ts';
import { chooseTarget } from '../../ops/disk-target.ts';
import type { DiskFacts } from '../../ops/disks.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { resolvePayload, resolveSecretText, secretTexts } from '../../ops/payload.ts';
import { makePlan, type StepName } from '../../ops/plan.ts';
import type { Prepared } from '../../ops/prepare.ts';
import { parseRecipe, type Recipe } from '../../ops/recipe.ts';
import type { ImageArtifact } from '../../ops/image-source.ts';
import { StepError, type StepImpl } from '../../ops/runner.ts';
import { STEPS } from '../../ops/steps/index.ts';
import { App } from '../../tui/app.tsx';
import type { WizardState } from '../../tui/model/wizard.ts';
import { allowedCharacters, consoleKind, type ConsoleKind } from '../../tui/theme.ts';

export const KEY = {
  up: '\u001B[A',
  down: '\u001B[B',
  right: '\u001B[C',
  left: '\u001B[D',
  enter: '\r',
  esc: '\u001B',
  tab: '\t',
  pageDown: '\u001B[6~',
  backspace: '\u007F',
  ctrlC: '\u0003',
  ctrlU: '\u0015',
};

const GiB = 1024 ** 3;

/** ESP + root on the fixture's /dev/sda, from the registry's Debian image. */
export const ESP_ROOT_RECIPE: Recipe = parseRecipe({
  task_target: 'install-linux.target',
  target_disk: '/dev/sda',
  oci_url: 'registry.test:5000/os-images/debian:12',
  partition_layout: [
    { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
    { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
  ],
});

export const MACHINE: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4', 'xfs', 'btrfs'], serial: 'SRV-0042' };

export const MACHINE_INFO: MachineInfo = {
  serial: 'SRV-0042',
  vendor: 'Dell Inc.',
  product: 'PowerEdge R650',
  uefi: true,
  efivars: true,
  memoryBytes: 64 * GiB,
  kernel: '6.1.0-shoal',
  interfaces: [
    { name: 'eno1', mac: 'aa:bb:cc:00:00:01', state: 'up', addresses: ['10.0.0.42/24', 'fe80::1/64'] },
    { name: 'eno2', mac: 'aa:bb:cc:00:00:02', state: 'down', addresses: [] },
  ],
  filesystems: ['vfat', 'ext4', 'xfs', 'btrfs'],
};

/** A server's disks: a free one with an old Linux on it, the boot medium, a read-only one, and a Windows NVMe. */
export function fixtureDisks(): DiskFacts[] {
  return [
    {
      path: '/dev/sda',
      kind: 'block',
      name: 'sda',
      sizeBytes: 480 * GiB,
      sectorSize: 512,
      model: 'SAMSUNG MZ7LH480',
      serial: 'S45NNA0M123456',
      transport: 'sata',
      wwn: '0x5002538e40a1b2c3',
      readOnly: false,
      partitionTable: 'gpt',
      partitions: [
        { path: '/dev/sda1', sizeBytes: 512 * 1024 ** 2, fstype: 'vfat', label: 'EFI', typeName: 'EFI System', mountpoints: [] },
        { path: '/dev/sda2', sizeBytes: 479 * GiB, fstype: 'ext4', label: 'root', typeName: 'Linux filesystem', mountpoints: [] },
      ],
      inUse: [],
      bootMedium: false,
    },
    {
      path: '/dev/sdb',
      kind: 'block',
      name: 'sdb',
      sizeBytes: 8 * GiB,
      sectorSize: 512,
      model: 'Virtual Media',
      transport: 'usb',
      readOnly: false,
      partitionTable: 'gpt',
      partitions: [{ path: '/dev/sdb1', sizeBytes: 8 * GiB, fstype: 'ext4', label: 'shoal-maint', mountpoints: ['/'] }],
      inUse: ["it is the running system's boot medium (/dev/sdb1 is mounted at /)"],
      bootMedium: true,
    },
    {
      path: '/dev/sdc',
      kind: 'block',
      name: 'sdc',
      sizeBytes: 32 * GiB,
      sectorSize: 512,
      model: 'Write Protected',
      transport: 'usb',
      readOnly: true,
      partitions: [],
      inUse: [],
      bootMedium: false,
    },
    {
      path: '/dev/nvme0n1',
      kind: 'block',
      name: 'nvme0n1',
      sizeBytes: 960 * GiB,
      sectorSize: 512,
      model: 'PM9A3 NVMe',
      serial: 'NV123',
      transport: 'nvme',
      readOnly: false,
      partitionTable: 'gpt',
      partitions: [
        { path: '/dev/nvme0n1p1', sizeBytes: 500 * 1024 ** 2, fstype: 'vfat', label: 'SYSTEM', typeName: 'EFI System', mountpoints: [] },
        { path: '/dev/nvme0n1p2', sizeBytes: 16 * 1024 ** 2, typeName: 'Microsoft reserved', mountpoints: [] },
        { path: '/dev/nvme0n1p3', sizeBytes: 959 * GiB, fstype: 'ntfs', label: 'Windows', typeName: 'Microsoft basic data', mountpoints: [] },
      ],
      inUse: [],
      bootMedium: false,
    },
  ];
}

const DIGEST = `sha256:${'ab12'.repeat(16)}`;

export const IMAGES: Record<string, ImageInfo> = {
  'os-images/debian:12': {
    reference: 'registry.test:5000/os-images/debian:12',
    manifestDigest: DIGEST,
    size: 312 * 1024 ** 2,
    layers: 1,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'debian-12-rootfs.tar.zst',
    os: 'linux',
    format: 'zstd',
  },
  'os-images/debian:11': {
    reference: 'registry.test:5000/os-images/debian:11',
    manifestDigest: `sha256:${'cd34'.repeat(16)}`,
    size: 280 * 1024 ** 2,
    layers: 1,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    artifactType: 'application/vnd.shoal.rootfs.tar.gz',
    title: 'debian-11-rootfs.tar.gz',
    os: 'linux',
    format: 'gzip',
  },
  // Not listed under the repositories: reached by typing its reference.
  'os-images/bootc-debian:13': {
    reference: 'registry.test:5000/os-images/bootc-debian:13',
    manifestDigest: `sha256:${'9f9f'.repeat(16)}`,
    platform: 'linux/amd64',
    size: 742 * 1024 ** 2,
    layers: 5,
    osName: 'Debian bootc 13.2',
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    os: 'linux',
    format: 'gzip',
  },
  'os-images/windows-server:2022': {
    reference: 'registry.test:5000/os-images/windows-server:2022',
    manifestDigest: `sha256:${'ef56'.repeat(16)}`,
    size: 5 * GiB,
    layers: 1,
    mediaType: 'application/vnd.shoal.windows.wim',
    artifactType: 'application/vnd.shoal.windows.wim',
    title: 'install.wim',
    os: 'windows',
    format: 'wim',
  },
};

/** A registry that answers like the controller's; with `auth`, everything is 401 until the right credentials. */
export function fakeRegistry(opts: { auth?: RegistryCredentials; log?: string[] } = {}) {
  return (host: string, o: { credentials?: RegistryCredentials }): RegistryBrowser => {
    const allowed = () => {
      if (!opts.auth) return;
      if (o.credentials?.username === opts.auth.username && o.credentials.password === opts.auth.password) return;
      throw new RegistryAuthRequired(`registry ${host} wants a username and password (HTTP 401)`);
    };
    return {
      ping: async () =>
        opts.auth && !o.credentials ? { state: 'auth', detail: 'answers, and wants a username and password' } : { state: 'ok', detail: 'answers (2 repositories)' },
      repositories: async () => {
        allowed();
        return ['os-images/debian', 'os-images/windows-server'];
      },
      tags: async (repo) => {
        allowed();
        return Object.keys(IMAGES)
          .filter((k) => k.startsWith(`${repo}:`))
          .map((k) => k.split(':')[1]!)
          .sort()
          .reverse();
      },
      inspect: async (ref) => {
        allowed();
        opts.log?.push(ref);
        const key = ref.replace(/^[^/]+\//, '');
        const info = IMAGES[key];
        if (!info) throw new Error(`${ref}: not found in the registry (HTTP 404)`);
        return info;
      },
      close: async () => undefined,
    };
  };
}

/** prepareInstall, with the fixture disks instead of lsblk: real payload resolution, real makePlan. */
export function fixturePrepare(disks: () => DiskFacts[]) {
  return async (recipe: Recipe, opts: { stopBefore?: StepName; machine?: MachineFacts }): Promise<Prepared> => {
    const target = await chooseTarget(recipe.target_disk, recipe.target_disk_hints, { listDisks: async () => disks() });
    const disk = disks().find((d) => d.path === target.path);
    if (!disk) throw new Error(`${target.path} does not exist`);
    const userData = recipe.user_data === undefined ? undefined : await resolvePayload(recipe.user_data, 'user_data');
    const password = recipe.registry?.password === undefined ? undefined : await resolveSecretText(recipe.registry.password, 'registry.password');
    const plan = makePlan(recipe, disk, opts.machine ?? MACHINE, { ...opts, payloads: { user_data: userData }, target });
    return { plan, inputs: { userData, registryPassword: password }, secrets: secretTexts([userData, password]) };
  };
}

export interface StepScript {
  /** Fail this step with this message and hint. */
  fail?: { step: StepName; message: string; hint?: string; times?: number };
  /** Bytes the image step "downloads", with progress events from a real ProgressMeter. */
  imageBytes?: number;
  /** Hold the image step until aborted (abort tests). */
  holdImage?: boolean;
  /** Every step that ran, in order. */
  ran?: StepName[];
  /** Cleanups the runner carried out (what partition.service registered with ctx.defer). */
  cleaned?: string[];
}

/**
 * Step bodies for the real runner: they run real commands through ctx.exec (so `command` events are the
 * engine's), meter real progress and log like the real steps, without touching a disk.
 */
export function scriptedSteps(script: StepScript): Record<StepName, StepImpl> {
  const make = (step: StepName): StepImpl => ({
    title: STEPS[step].title,
    async run(ctx) {
      script.ran?.push(step);
      await ctx.exec(['true', `${step}`]);
      if (script.fail?.step === step && (script.fail.times ?? 1) > 0) {
        script.fail.times = (script.fail.times ?? 1) - 1;
        throw new StepError(script.fail.message, script.fail.hint);
      }
      if (step === 'image-linux.service' || step === 'image-windows.service') {
        ctx.log(`image ${DIGEST}: layer 312.0 MiB`);
        ctx.state.image.artifact = { resolved: { manifestDigest: DIGEST } } as ImageArtifact;
        const total = script.imageBytes ?? 64 * 1024 * 1024;
        const meter = ctx.meter(total);
        await ctx.exec(['sh', '-c', 'exit 0', 'tar', '--extract']);
        for (let b = 0; b <= total; b += total / 8) {
          meter.update(b);
          await sleep(5);
        }
        while (script.holdImage && !ctx.signal.aborted) await sleep(20);
        if (ctx.signal.aborted) throw new Error('tar --extract was cancelled');
      }
      if (step === 'partition.service') {
        ctx.defer('detach the disk', async () => void script.cleaned?.push('detach the disk'));
        for (const p of ctx.plan.partitions) {
          ctx.state.partitionDevices[p.number] = `${ctx.plan.disk.path}${p.number}`;
          if (p.fsUuid) ctx.state.fsUuids[p.number] = p.fsUuid;
        }
      }
      ctx.log(`${step} finished`);
    },
  });
  return Object.fromEntries((Object.keys(STEPS) as StepName[]).map((s) => [s, make(s)])) as Record<StepName, StepImpl>;
}

export interface Harness {
  session: ConsoleSession;
  disks: DiskFacts[];
  power: string[];
  exits: number[];
  script: StepScript;
  inspected: string[];
}

export function makeSession(opts: { script?: StepScript; auth?: RegistryCredentials; stopBefore?: StepName; registry?: string | null; deps?: Partial<ConsoleDeps> } = {}): Harness {
  const disks = fixtureDisks();
  const power: string[] = [];
  const script = opts.script ?? {};
  script.ran ??= [];
  script.cleaned ??= [];
  const inspected: string[] = [];
  const session = new ConsoleSession(
    { registry: opts.registry === null ? undefined : (opts.registry ?? 'registry.test:5000'), stopBefore: opts.stopBefore, logDir: false },
    {
      listDisks: async () => disks,
      inspectDisk: async (path) => {
        const d = disks.find((x) => x.path === path);
        if (!d) throw new Error(`${path} does not exist`);
        return d;
      },
      // The fixture disks are not this machine's: nothing to lock.
      lockDisk: async () => undefined,
      machineFacts: async () => MACHINE,
      machineInfo: async () => MACHINE_INFO,
      prepare: fixturePrepare(() => disks),
      steps: scriptedSteps(script),
      registry: fakeRegistry({ auth: opts.auth, log: inspected }),
      power: async (action) => void power.push(action),
      ...opts.deps,
    },
  );
  return { session, disks, power, exits: [], script, inspected };
}

export function renderApp(h: Harness, initial?: WizardState, kind: ConsoleKind = consoleKind()) {
  const r = render(<App session={h.session} kind={kind} size={{ columns: 80, rows: 24 }} initial={initial} onExit={(c) => h.exits.push(c)} />);
  const frame = () => r.lastFrame() ?? '';
  return {
    ...r,
    frame,
    /** Type keys one at a time, as a technician does. */
    async press(...keys: string[]) {
      for (const k of keys) {
        r.stdin.write(k);
        await sleep(k === KEY.esc ? 30 : 5);
      }
    },
    async type(text: string) {
      for (const ch of text) {
        r.stdin.write(ch);
        await sleep(2);
      }
    },
    async waitFor(what: string | RegExp | (() => boolean), timeoutMs = 4000) {
      const ok = () => (typeof what === 'function' ? what() : typeof what === 'string' ? frame().includes(what) : what.test(frame()));
      const deadline = Date.now() + timeoutMs;
      while (!ok()) {
        if (Date.now() > deadline) {
          const history = r.frames.slice(-12).map(
            (f) =>
              `  ${
                f
                  .split('\n')
                  .filter((l) => l.trim())
                  .slice(-1)[0] ?? ''
              }`,
          );
          assert.fail(`timed out waiting for ${String(what)}; the screen is:\n${frame()}\nstatus bars of the last frames:\n${history.join('\n')}`);
        }
        await sleep(10);
      }
    },
  };
}

const stripAnsi = (s: string) => s.replace(/\u001B\[[0-9;?]*[ -/]*[@-~]/g, '');

/** Every frame fits 80x24 (at most 23 lines, 80 columns) and draws only what this console can. */
export function assertFrames(frames: string[], kind: ConsoleKind) {
  const ok = allowedCharacters(kind);
  for (const raw of frames) {
    const f = stripAnsi(raw);
    const lines = f.replace(/\n$/, '').split('\n');
    assert.ok(lines.length <= 23, `a frame is ${lines.length} lines high:\n${f}`);
    for (const l of lines) assert.ok([...l].length <= 80, `a line is ${[...l].length} columns wide: "${l}"`);
    const bad = [...new Set([...f].filter((ch) => !ok(ch)))];
    assert.deepEqual(bad, [], `characters a ${kind} console cannot draw: ${bad.map((c) => `${c} (U+${c.codePointAt(0)!.toString(16)})`).join(', ')}\n${f}`);
  }
}
