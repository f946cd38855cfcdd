/**
 * Auto mode end to end on this host, against a local stand-in for the Shoal controller's webhook:
 * `shoal-install auto --cmdline FILE --task-dir DIR` (the bundle, as the unit runs it) for every way a job can be
 * wrong before a disk is touched, and runAuto in-process with stand-in steps for the success and step-failure
 * paths (a real install that boots is the VM test's job). The task ISO's mount is proven in the VM.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runAuto } from '../../ops/auto.ts';
import { parseEventLine, type InstallEvent } from '../../ops/events.ts';
import type { MachineFacts, PowerAction } from '../../ops/machine.ts';
import type { Plan, StepName } from '../../ops/plan.ts';
import { StepError, type StepImpl } from '../../ops/runner.ts';
import { runCli } from '../helpers/cli.ts';
import { makeDiskImage, sha256File } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../vm/lib/webhook-receiver.ts';
import pkg from '../../package.json' with { type: 'json' };

const SECRET = 'whs-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const USER_DATA_SECRET = 'cloud-password-never-shown-1234';
const BOOT = 'BOOT_IMAGE=/images/pxeboot/vmlinuz root=live:CDLABEL=SHOAL-MAINT rd.live.image quiet';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let work: string;
let hook: WebhookReceiver;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-auto-'));
  hook = await startWebhookReceiver();
});

after(async () => {
  await hook?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

let seq = 0;
/**
 * A fresh case directory: the cmdline file (shoal.webhook, shoal.serial and no wait for the stand-in registry,
 * unless `kernel` gives the whole command line), a task dir (recipe.json + webhook_secret unless told, shoal.conf
 * if given), the image's defaults if given (else a path that does not exist: the host's /etc is not the test's),
 * a log path.
 */
async function jobCase(opts: { cmdline: string; recipe?: unknown; secret?: boolean; serial: string; kernel?: string; conf?: string; defaults?: string }) {
  const dir = join(work, `case-${++seq}`);
  const task = join(dir, 'task');
  await mkdir(task, { recursive: true });
  const kernel = opts.kernel ?? `shoal.auto shoal.webhook=${hook.url} shoal.serial=${opts.serial} shoal.net_wait=0`;
  await writeFile(join(dir, 'cmdline'), `${BOOT} ${kernel} ${opts.cmdline}\n`);
  if (opts.recipe !== undefined) await writeFile(join(task, 'recipe.json'), typeof opts.recipe === 'string' ? opts.recipe : JSON.stringify(opts.recipe));
  if (opts.secret !== false) await writeFile(join(task, 'webhook_secret'), `${SECRET}\n`);
  if (opts.conf !== undefined) await writeFile(join(task, 'shoal.conf'), opts.conf);
  if (opts.defaults !== undefined) await writeFile(join(dir, 'defaults'), opts.defaults);
  const c = { dir, task, cmdline: join(dir, 'cmdline'), defaults: join(dir, 'defaults'), log: join(dir, 'install.jsonl') };
  return { ...c, args: ['auto', '--cmdline', c.cmdline, '--defaults', c.defaults, '--task-dir', c.task, '--log', c.log] };
}

const reportFor = (serial: string) => hook.waitFor((r) => r.method === 'POST' && r.path === `/api/v1/status-webhook/${serial}`, 5000);

function assertReport(r: ReceivedRequest, expected: Record<string, unknown>, opts: { secret?: boolean } = {}) {
  const body = r.body as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(body[k], v, `webhook ${k}`);
  assert.match(String(body.delivery_id), UUID);
  assert.equal(body.dispatcher_version, pkg.version);
  assert.ok(Date.parse(String(body.started_at)) <= Date.parse(String(body.finished_at)));
  const allowed = ['status', 'failed_step', 'delivery_id', 'task_target', 'started_at', 'finished_at', 'dispatcher_version', 'schema_id'];
  assert.deepEqual(
    Object.keys(body).filter((k) => !allowed.includes(k)),
    [],
    'only the contract fields',
  );
  assert.equal(r.headers['x-webhook-secret'], opts.secret === false ? undefined : SECRET);
  assert.ok(!r.text.includes(SECRET), 'the secret is never in the body');
}

async function events(log: string): Promise<InstallEvent[]> {
  return (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => {
      const read = parseEventLine(l);
      if ('problem' in read) throw new Error(`the install log holds a line that is not an install event (${read.problem}): ${l}`);
      return read.event;
    });
}

const LINUX_RECIPE = (disk: string) => ({
  schema_version: '1',
  task_target: 'install-linux.target',
  target_disk: disk,
  oci_url: '127.0.0.1:9/os-images/none:1',
  partition_layout: [
    { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
    { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
  ],
  user_data: `#cloud-config\npassword: ${USER_DATA_SECRET}\n`,
});

test('(a) a bad recipe: webhook failed/provision-dispatcher.service, console summary, exit 2, nothing secret anywhere', async () => {
  const serial = 'AUTO-BAD-RECIPE';
  const c = await jobCase({ serial, cmdline: 'shoal.task_wait=1', recipe: { task_target: 'install-linux.target', partition_layout: [], bogus: 1 } });
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 2, run.stdout + run.stderr);
  assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service', task_target: undefined });
  assert.match(run.stdout, /INSTALL FAILED at provision-dispatcher\.service/);
  assert.match(run.stdout, /the recipe is not valid:/);
  assert.match(run.stdout, /\$\.target_disk: /);
  assert.match(run.stdout, /\$: Unrecognized key: "bogus"|bogus/);
  assert.match(run.stdout, /what to do: fix recipe\.json on the task ISO/);
  assert.match(run.stdout, /Last \d+ log lines:\n {2}\| /);
  assert.ok(run.stdout.includes(`Full log: ${c.log}`));
  assert.match(run.stdout, /stays up for inspection/);
  const log = await readFile(c.log, 'utf8');
  assert.ok(!log.includes(SECRET) && !run.stdout.includes(SECRET) && !run.stderr.includes(SECRET));
  const results = (await events(c.log)).filter((e) => e.type === 'result');
  assert.ok(results.length === 1 && results[0]!.type === 'result' && !results[0]!.result.ok, 'the log has a failed result for its followers');
  assert.ok(!run.stdout.includes('Install failed at undefined'));
  assert.match(log, /webhook: reported failed \(provision-dispatcher\.service\)/);
});

test('(a2) recipe.json that is not JSON, and no recipe.json at all, are provision-dispatcher.service too', async () => {
  for (const [serial, recipe, message] of [
    ['AUTO-NOT-JSON', '{"task_target": ', /recipe\.json is not JSON/],
    ['AUTO-NO-RECIPE', undefined, /no usable recipe\.json in the task directory .*ENOENT/],
  ] as const) {
    const c = await jobCase({ serial, cmdline: '', recipe });
    const run = await runCli(c.args, { timeoutMs: 60_000 });
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stdout, message);
    assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service' });
  }
});

test('(b) no task ISO (no drive with recipe.json within shoal.task_wait): provision-dispatcher.service, reported without a secret', async () => {
  const serial = 'AUTO-NO-ISO';
  const c = await jobCase({ serial, cmdline: 'shoal.task_wait=1', secret: false });
  const lines: string[] = [];
  const t0 = Date.now();
  // In process, with no drives: the host's own drives are not this test's to mount.
  const out = await runAuto({ cmdlineFile: c.cmdline, defaultsFile: c.defaults, logPath: c.log, write: (l) => lines.push(l), drives: async () => [], webhookRetryDelaysMs: [10] });
  const text = lines.join('\n');
  assert.equal(out.exitCode, 2, text);
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 30_000, `the wait is bounded by shoal.task_wait, and is waited out in auto mode (${took} ms)`);
  assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service' }, { secret: false });
  assert.match(text, /looking for the task ISO \(recipe\.json at its root\) on any optical, removable or USB drive, up to 1 s/);
  assert.match(text, /no task ISO with recipe\.json found within 1 s \(nothing on any optical, removable or USB drive\)/);
  assert.match(text, /what to do: attach the job's task ISO as virtual media/);
  assert.match(await readFile(c.log, 'utf8'), /no webhook secret/);
});

test('(c) a refused plan (layout larger than the disk image): reported, exit 3, the disk untouched', async (t) => {
  if (!skipUnless(t, ['losetup'])) return;
  const serial = 'AUTO-REFUSED';
  const disk = makeDiskImage(join(work, 'small.img'), '64M');
  // The recipe names a disk this machine lacks; shoal.disk= points the job at the image instead.
  const c = await jobCase({ serial, cmdline: `shoal.disk=${disk} shoal.task_wait=1`, recipe: LINUX_RECIPE('/dev/disk-that-is-not-here') });
  await writeFile(join(c.task, 'recipe.schema.json'), JSON.stringify({ $id: 'https://shoal.example/schemas/recipe-v1.json' }));
  const before = await sha256File(disk);
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 3, run.stdout + run.stderr);
  assertReport(await reportFor(serial), {
    status: 'failed',
    failed_step: 'provision-dispatcher.service',
    task_target: 'install-linux.target',
    schema_id: 'https://shoal.example/schemas/recipe-v1.json',
  });
  assert.match(run.stdout, /the plan was refused, nothing was written/);
  assert.match(run.stdout, /does not fit: the layout needs more than the 64(\.0)? MiB of .*small\.img/);
  assert.match(run.stdout, /what to do: the recipe does not fit this machine/);
  assert.equal(await sha256File(disk), before, 'not one byte of the disk changed');
  assert.equal((await stat(disk)).size, 64 * 1024 * 1024);
  const all = `${run.stdout}${await readFile(c.log, 'utf8')}`;
  assert.ok(!all.includes(USER_DATA_SECRET) && !all.includes(SECRET));
});

test('(d) credentials on the kernel command line: refused (provision-dispatcher.service); the task ISO secret still authenticates the report', async () => {
  const serial = 'AUTO-BAD-KARGS';
  const c = await jobCase({ serial, cmdline: 'shoal.registry_password=hunter2-on-cmdline shoal.typo=1', recipe: LINUX_RECIPE('/dev/sda') });
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 2, run.stdout + run.stderr);
  assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service' });
  assert.match(run.stdout, /shoal\.registry_password: registry credentials are never taken from the kernel command line/);
  assert.match(run.stdout, /warn: shoal\.typo: unknown shoal\.\* kernel argument, ignored/);
  assert.ok(!`${run.stdout}${await readFile(c.log, 'utf8')}`.includes('hunter2-on-cmdline'));
});

test('(e) the registry cannot be reached within shoal.net_wait: said while waiting, then provision-dispatcher.service naming the host and what to check', async () => {
  const serial = 'AUTO-NO-NET';
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const recipe = { ...LINUX_RECIPE(join(work, 'never-inspected.img')), oci_url: `127.0.0.1:${port}/os-images/debian:12` };
  const c = await jobCase({ serial, cmdline: 'shoal.net_wait=1', recipe });
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /shoal\.net_wait=1 from the kernel command line/, 'the later word counts');
  assert.match(run.stdout, new RegExp(`waiting for the network: registry 127\\.0\\.0\\.1:${port} not reachable yet \\(0 s; connection refused`));
  assert.match(run.stdout, /INSTALL FAILED at provision-dispatcher\.service/);
  assert.match(run.stdout, new RegExp(`the registry 127\\.0\\.0\\.1:${port} could not be reached within 1 s`));
  assert.match(run.stdout, /what to do: check this machine's network: the cable and link of its NIC, that DHCP gives it an address/);
  assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service', task_target: 'install-linux.target' });
});

test("(f) settings from the task ISO's shoal.conf and the image's, below the kernel command line, per key; the log says where each came from", async () => {
  const serial = 'AUTO-CONF';
  const c = await jobCase({
    serial,
    kernel: `shoal.serial=${serial}`,
    cmdline: '',
    recipe: { task_target: 'install-linux.target', partition_layout: [] },
    conf: `# what the controller wrote for this job\nshoal.webhook=${hook.url}\n  shoal.serial=NOT-THIS-ONE   shoal.net_wait=0 # no registry here\n`,
    defaults: 'shoal.webhook=http://127.0.0.1:9/never\nshoal.task_wait=1\n',
  });
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 2, run.stdout + run.stderr);
  assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service' });
  assert.match(run.stdout, new RegExp(`shoal\\.webhook=${hook.url.replace(/\./g, '\\.')}/ from the task ISO's shoal\\.conf`));
  assert.match(run.stdout, /shoal\.serial=AUTO-CONF from the kernel command line/);
  assert.match(run.stdout, /shoal\.net_wait=0 from the task ISO's shoal\.conf/);
  assert.ok(run.stdout.includes(`shoal.task_wait=1 from the image's defaults (${c.defaults})`));
  assert.match(run.stdout, /shoal\.auto is not set: auto mode runs because the boot found a task ISO/);
  assert.ok(!hook.requests.some((r) => r.path.endsWith('/NOT-THIS-ONE')));
});

test("(g) a bad word in the task ISO's shoal.conf: refused before anything is touched, named with its file; still reported", async () => {
  const serial = 'AUTO-CONF-BAD';
  const c = await jobCase({
    serial,
    kernel: '',
    cmdline: '',
    recipe: LINUX_RECIPE('/dev/disk-that-is-not-here'),
    conf: `shoal.webhook=${hook.url} shoal.serial=${serial}\nshoal.poweroff=maybe\nregistry_password=hunter2-in-conf\n`,
  });
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 2, run.stdout + run.stderr);
  assertReport(await reportFor(serial), { status: 'failed', failed_step: 'provision-dispatcher.service' });
  assert.match(run.stdout, /the shoal\.\* settings are not valid:/);
  assert.match(run.stdout, /shoal\.poweroff \("maybe"\) in shoal\.conf on the task ISO: a switch/);
  assert.match(run.stdout, /"registry_password=\.\.\." in shoal\.conf on the task ISO: not a shoal\.\* setting/);
  assert.ok(!`${run.stdout}${await readFile(c.log, 'utf8')}`.includes('hunter2-in-conf'));
});

test('shoal.auto=0: nothing happens, nothing is reported, exit 0', async () => {
  const c = await jobCase({ serial: 'AUTO-OFF', cmdline: 'shoal.auto=0', recipe: '{' });
  const run = await runCli(c.args, { timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /auto mode is off/);
  assert.ok(!hook.requests.some((r) => r.path.endsWith('/AUTO-OFF')));
});

// --- in process, with stand-in steps: the paths after the plan ---------------------------------------------

const MACHINE: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4', 'xfs'], serial: 'ignored' };

function fakeSteps(fail?: StepName, seen?: (plan: Plan) => void): Record<StepName, StepImpl> {
  const step = (name: StepName): StepImpl => ({
    title: `stand-in for ${name}`,
    async run(ctx) {
      seen?.(ctx.plan);
      ctx.log(`${name} working`);
      if (name === fail) throw new StepError(`${name} broke on purpose`, 'replace the stand-in');
      const meter = ctx.meter(1000);
      meter.update(500);
      meter.update(1000);
    },
  });
  const names: StepName[] = ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service', 'image-windows.service', 'bootloader-windows.service'];
  return Object.fromEntries(names.map((n) => [n, step(n)])) as Record<StepName, StepImpl>;
}

test('success: the plan runs, the controller hears "success" (after a 503, same delivery_id), then shoal.poweroff powers off', async (t) => {
  if (!skipUnless(t, ['losetup'])) return;
  const flaky = await startWebhookReceiver({ failFirst: 1 });
  try {
    const disk = makeDiskImage(join(work, 'ok.img'), '2G');
    const c = await jobCase({ serial: 'AUTO-OK', cmdline: `shoal.poweroff shoal.kargs="console=ttyS0,115200 quiet"`, recipe: LINUX_RECIPE(disk) });
    await writeFile(c.cmdline, (await readFile(c.cmdline, 'utf8')).replace(hook.url, flaky.url));
    const lines: string[] = [];
    const power: PowerAction[] = [];
    const kernelArgs = new Set<string | undefined>();
    const out = await runAuto({
      cmdlineFile: c.cmdline,
      defaultsFile: c.defaults,
      taskDir: c.task,
      logPath: c.log,
      write: (l) => lines.push(l),
      power: async (a) => void power.push(a),
      steps: fakeSteps(undefined, (plan) => kernelArgs.add(plan.recipe.kernel_args)),
      machine: MACHINE,
      webhookRetryDelaysMs: [20, 40, 80],
    });
    const text = lines.join('\n');
    assert.equal(out.exitCode, 0, text);
    assert.equal(out.status, 'success');
    assert.deepEqual(power, ['poweroff']);
    const posts = flaky.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((p) => p.status),
      [503, 200],
    );
    assert.equal((posts[0]!.body as { delivery_id: string }).delivery_id, (posts[1]!.body as { delivery_id: string }).delivery_id);
    assertReport(posts[1]!, { status: 'success', failed_step: undefined, task_target: 'install-linux.target', schema_id: '1' });
    assert.match(text, /==> partition\.service: stand-in/);
    assert.match(text, /\[image-linux\.service\] 100% /);
    assert.match(text, /Install finished: powering off \(shoal\.poweroff\)/);
    assert.deepEqual([...kernelArgs], ['console=ttyS0,115200 quiet'], 'the steps see the shoal.kargs override');
    assert.ok(!text.includes(USER_DATA_SECRET) && !(await readFile(c.log, 'utf8')).includes(USER_DATA_SECRET));
  } finally {
    await flaky.close();
  }
});

test('a step failure: reported as that step, summary with its hint and the last log lines, no power action', async (t) => {
  if (!skipUnless(t, ['losetup'])) return;
  const disk = makeDiskImage(join(work, 'fail.img'), '2G');
  const c = await jobCase({ serial: 'AUTO-STEP-FAIL', cmdline: 'shoal.reboot', recipe: LINUX_RECIPE(disk) });
  const lines: string[] = [];
  const power: PowerAction[] = [];
  const out = await runAuto({
    cmdlineFile: c.cmdline,
    defaultsFile: c.defaults,
    taskDir: c.task,
    logPath: c.log,
    write: (l) => lines.push(l),
    power: async (a) => void power.push(a),
    steps: fakeSteps('image-linux.service'),
    machine: MACHINE,
    webhookRetryDelaysMs: [10],
  });
  const text = lines.join('\n');
  assert.equal(out.exitCode, 1, text);
  assert.equal(out.failedStep, 'image-linux.service');
  assert.deepEqual(power, [], 'a failed machine stays up');
  assertReport(await reportFor('AUTO-STEP-FAIL'), { status: 'failed', failed_step: 'image-linux.service', task_target: 'install-linux.target' });
  const summary = text.slice(text.indexOf('INSTALL FAILED'));
  assert.match(summary, /^INSTALL FAILED at image-linux\.service\n {2}image-linux\.service broke on purpose\n {2}what to do: replace the stand-in/);
  assert.match(summary, /\| {3}image-linux\.service working/);
  assert.match(summary, /\| FAILED image-linux\.service: image-linux\.service broke on purpose/);
  const tail = summary.split('\n').filter((l) => l.startsWith('  | '));
  assert.ok(tail.length > 0 && tail.length <= 15, `${tail.length} tail lines`);
});
