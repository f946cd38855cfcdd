/**
 * Auto mode's inputs against a real registry: credentials from files on the task ISO, shoal.image= replacing the
 * recipe's oci_url, and the recipe from shoal.recipe=URL; and a stop (SIGTERM's abort) while a step is held, which
 * ends with exit 130 and exactly one report. The image step's preflight is the real one (it resolves the image at
 * the registry, with the credentials); the steps that would write are stand-ins, because a Linux auto install
 * needs the ESP mounted and this test must not depend on the kernel having vfat (the CLI tests and the VM run
 * the real steps). Auto mode is run in process with no drives, so no host drive is ever looked at.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runAuto } from '../../ops/auto.ts';
import { imageLinuxStep } from '../../ops/steps/image-linux.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import type { StepName } from '../../ops/plan.ts';
import type { StepImpl } from '../../ops/runner.ts';
import { makeDiskImage } from '../helpers/disk.ts';
import { missingPrerequisite, skipUnless } from '../helpers/env.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeRootfsTree, packRootfs } from '../helpers/rootfs.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../vm/lib/webhook-receiver.ts';

const TOOLS = ['docker-registry', 'skopeo', 'htpasswd', 'losetup'];
const PASSWORD = 'task-iso-registry-pass-9876';
const MACHINE: MachineFacts = { uefi: true, efivars: false, filesystems: ['vfat', 'ext4'], serial: 'ignored' };
const ROOTFS = { mediaType: 'application/vnd.oci.image.layer.v1.tar', artifactType: 'application/vnd.shoal.rootfs.tar', title: 'rootfs.tar' };

let work: string;
let open: TestRegistry;
let locked: TestRegistry;
let hook: WebhookReceiver;
let recipes: TestServer;
const served = new Map<string, string>();

before(async () => {
  if (missingPrerequisite(TOOLS)) return;
  work = await mkdtemp(join(tmpdir(), 'shoal-auto-sources-'));
  open = await startRegistry();
  locked = await startRegistry({ auth: { username: 'shoal', password: PASSWORD } });
  await makeRootfsTree(join(work, 'tree'));
  packRootfs(join(work, 'tree'), join(work, 'rootfs.tar'), 'none');
  await pushArtifact(open, 'os/rootfs:1', join(work, 'rootfs.tar'), ROOTFS);
  await pushArtifact(locked, 'os/rootfs:1', join(work, 'rootfs.tar'), ROOTFS);
  hook = await startWebhookReceiver();
  recipes = await serve((req, res) => {
    const body = served.get(req.url ?? '');
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(body ?? 'not here');
  });
});

after(async () => {
  await hook?.close();
  await recipes?.close();
  await open?.stop();
  await locked?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const recipe = (disk: string, ociUrl: string) => ({
  task_target: 'install-linux.target',
  target_disk: disk,
  oci_url: ociUrl,
  partition_layout: [
    { size: '64M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
    { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
  ],
});

/** Stand-ins for every step but the image step's preflight; `hold` makes the image step wait for the stop. */
function steps(hold?: { reached: () => void }): Record<StepName, StepImpl> {
  const standIn = (name: StepName): StepImpl => ({
    title: `stand-in for ${name}`,
    async run(ctx) {
      ctx.log(`${name} stand-in`);
    },
  });
  const names: StepName[] = ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service', 'image-windows.service', 'bootloader-windows.service'];
  const all = Object.fromEntries(names.map((n) => [n, standIn(n)])) as Record<StepName, StepImpl>;
  all['image-linux.service'] = {
    title: imageLinuxStep.title,
    preflight: imageLinuxStep.preflight,
    async run(ctx) {
      if (!hold) return;
      hold.reached();
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
    },
  };
  return all;
}

let seq = 0;
async function job(serial: string, opts: { cmdline: string; recipe?: unknown; files?: Record<string, string>; task?: boolean }) {
  const dir = join(work, `job-${++seq}`);
  const task = join(dir, 'task');
  await mkdir(task, { recursive: true });
  await writeFile(join(dir, 'cmdline'), `quiet shoal.auto shoal.webhook=${hook.url} shoal.serial=${serial} shoal.net_wait=5 shoal.task_wait=1 ${opts.cmdline}\n`);
  if (opts.recipe !== undefined) await writeFile(join(task, 'recipe.json'), JSON.stringify(opts.recipe));
  for (const [name, text] of Object.entries(opts.files ?? {})) await writeFile(join(task, name), text);
  const lines: string[] = [];
  const log = join(dir, 'install.jsonl');
  return {
    lines,
    log,
    run: (extra: { signal?: AbortSignal; steps?: Record<StepName, StepImpl> } = {}) =>
      runAuto({
        cmdlineFile: join(dir, 'cmdline'),
        defaultsFile: join(dir, 'no-defaults'),
        taskDir: opts.task === false ? undefined : task,
        drives: async () => [],
        logPath: log,
        write: (l) => lines.push(l),
        power: async () => {},
        machine: MACHINE,
        steps: extra.steps ?? steps(),
        webhookRetryDelaysMs: [10],
        signal: extra.signal,
      }),
  };
}

const reportsFor = (serial: string) => hook.requests.filter((r) => r.method === 'POST' && r.path === `/api/v1/status-webhook/${serial}`);
const bodyOf = (serial: string) => reportsFor(serial).map((r) => r.body as { status: string; failed_step?: string });

test('registry credentials from registry_username and registry_password on the task ISO: the image resolves; without them it is refused 401', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'creds.img'), '512M');
  const r = recipe(disk, `${locked.host}/os/rootfs:1`);
  const without = await job('SRC-NO-CREDS', { cmdline: '', recipe: r });
  const refused = await without.run();
  assert.equal(refused.exitCode, 1, without.lines.join('\n'));
  assert.deepEqual(
    bodyOf('SRC-NO-CREDS').map((b) => [b.status, b.failed_step]),
    [['failed', 'image-linux.service']],
  );
  assert.match(without.lines.join('\n'), /401|credentials|unauthori[sz]ed/i);

  const withFiles = await job('SRC-CREDS', { cmdline: '', recipe: r, files: { registry_username: 'shoal\n', registry_password: `${PASSWORD}\n` } });
  const ok = await withFiles.run();
  const text = withFiles.lines.join('\n');
  assert.equal(ok.exitCode, 0, text);
  assert.deepEqual(
    bodyOf('SRC-CREDS').map((b) => b.status),
    ['success'],
  );
  const log = await readFile(withFiles.log, 'utf8');
  assert.ok(!text.includes(PASSWORD) && !log.includes(PASSWORD), 'the password is in no output');
  assert.ok(!JSON.stringify(hook.requests.map((q) => q.body)).includes(PASSWORD), 'nor in any report');
});

test("shoal.image= replaces the recipe's oci_url: a recipe naming a missing tag installs the image the command line names", async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'image.img'), '512M');
  const r = recipe(disk, `${open.host}/os/rootfs:missing`);
  const plain = await job('SRC-NO-IMAGE', { cmdline: '', recipe: r });
  assert.equal((await plain.run()).exitCode, 1, plain.lines.join('\n'));
  assert.equal(bodyOf('SRC-NO-IMAGE')[0]?.failed_step, 'image-linux.service');

  const over = await job('SRC-IMAGE', { cmdline: `shoal.image=${open.host}/os/rootfs:1`, recipe: r });
  const out = await over.run();
  const text = over.lines.join('\n');
  assert.equal(out.exitCode, 0, text);
  assert.match(text, new RegExp(`${open.host}/os/rootfs:1`));
  assert.deepEqual(
    bodyOf('SRC-IMAGE').map((b) => b.status),
    ['success'],
  );
});

test('shoal.recipe=URL: the recipe is fetched from the URL (no task ISO), and the job runs and is reported', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'url.img'), '512M');
  served.set('/jobs/4711/recipe.json', JSON.stringify(recipe(disk, `${open.host}/os/rootfs:1`)));
  const j = await job('SRC-URL', { cmdline: `shoal.recipe=http://${recipes.host}/jobs/4711/recipe.json`, task: false });
  const out = await j.run();
  const text = j.lines.join('\n');
  assert.equal(out.exitCode, 0, text);
  assert.match(text, new RegExp(`${recipes.host}/jobs/4711/recipe\\.json`), 'the console says where the recipe came from');
  assert.deepEqual(
    bodyOf('SRC-URL').map((b) => b.status),
    ['success'],
  );
  assert.deepEqual(
    bodyOf('SRC-URL').map((b) => (b as { task_target?: string }).task_target),
    ['install-linux.target'],
  );
});

test('stopped while the image step is held (what SIGTERM does): exit 130, exactly one report, failed at that step', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const disk = makeDiskImage(join(work, 'stop.img'), '512M');
  const j = await job('SRC-STOP', { cmdline: '', recipe: recipe(disk, `${open.host}/os/rootfs:1`) });
  const stop = new AbortController();
  let reached!: () => void;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const running = j.run({ signal: stop.signal, steps: steps({ reached }) });
  await Promise.race([held, running.then((o) => assert.fail(`the job ended (exit ${o.exitCode}) before the image step was held:\n${j.lines.join('\n')}`))]);
  stop.abort(new Error('SIGTERM'));
  const out = await running;
  assert.equal(out.exitCode, 130, j.lines.join('\n'));
  const reports = bodyOf('SRC-STOP');
  assert.equal(reports.length, 1, `one report: ${JSON.stringify(reports)}`);
  assert.equal(reports[0]!.status, 'failed');
  assert.equal(reports[0]!.failed_step, 'image-linux.service');
});
