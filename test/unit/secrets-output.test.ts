/**
 * Secrets (user_data, unattend_xml, the registry password, the webhook secret) never reach an output: not `plan`,
 * not `plan --json`, not auto mode's console or JSON-lines log, not the webhook's lines, whatever the controller
 * answers. And redaction keeps ordinary text readable: a short secret is hidden where it stands alone, not inside
 * `mkfs.ext4`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { runAuto } from '../../ops/auto.ts';
import type { DiskFacts } from '../../ops/disks.ts';
import type { InstallEvent } from '../../ops/events.ts';
import { redactText } from '../../ops/exec.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { makePlan, type StepName } from '../../ops/plan.ts';
import { parseRecipe } from '../../ops/recipe.ts';
import { postStatus, makeStatusReport } from '../../ops/report.ts';
import { runPlan, type StepImpl } from '../../ops/runner.ts';
import { ensureBundle } from '../helpers/cli.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const USER_DATA = '#cloud-config\npassword: ud-secret-7f3a91c2\n';
const CONTENT_SECRET = '#cloud-config\nchpasswd: {list: "root:content-secret-55e1"}\n';
const UNATTEND = '<?xml version="1.0"?><unattend><AdministratorPassword>unattend-secret-c0ffee</AdministratorPassword></unattend>';
const REGISTRY_PASSWORD = 'Passw0rd1234';
const WEBHOOK_SECRET = 'whs-9b8a7c6d5e4f';
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Every form a secret could be shown in: as written in the recipe, decoded, and each secret line of it. */
const FORBIDDEN = [
  USER_DATA,
  b64(USER_DATA),
  'ud-secret-7f3a91c2',
  CONTENT_SECRET,
  'content-secret-55e1',
  UNATTEND,
  b64(UNATTEND),
  'unattend-secret-c0ffee',
  REGISTRY_PASSWORD,
  WEBHOOK_SECRET,
];

function assertNoSecret(where: string, text: string) {
  for (const s of FORBIDDEN) assert.ok(!text.includes(s), `${where} shows the secret ${JSON.stringify(s.slice(0, 30))}`);
}

const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SN1' };
let work: string;
let disk: string;
let controller: TestServer;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-secrets-'));
  disk = join(work, 'disk.img');
  await writeFile(disk, '');
  await truncate(disk, 4 * 1024 ** 3);
  // A controller that refuses every report and quotes the request's secret header back in its 403 body.
  controller = await serve((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`forbidden: secret ${String(req.headers['x-webhook-secret'])} is not known here`);
    });
  });
});
after(async () => {
  await controller?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

// No mountpoint for the ESP, and the plans stop before the boot loader: this kernel may have no vfat.
const LAYOUT = [
  { size: '512M', type_guid: 'ef00', format: 'vfat' },
  { size: '100%', format: 'ext4', mountpoint: '/' },
];
const linux = (extra: Record<string, unknown>) => ({
  task_target: 'install-linux.target',
  target_disk: disk,
  oci_url: '127.0.0.1:9/os/none:1',
  partition_layout: LAYOUT,
  ...extra,
});
const windows = (extra: Record<string, unknown>) => ({
  task_target: 'install-windows.target',
  target_disk: disk,
  oci_url: '127.0.0.1:9/os/win:1',
  partition_layout: [
    { size: '500M', type_guid: 'ef00', format: 'vfat', label: 'SYSTEM' },
    { size: '16M', type_guid: '0c01', format: 'raw' },
    { size: '100%', type_guid: '0700', format: 'ntfs', label: 'Windows' },
  ],
  ...extra,
});

/** The bundle, as the maintenance OS runs it; `plan --json` prints one JSON document, not event lines. */
const shoalInstall = (args: string[]) => spawnSync('node', [ensureBundle(), ...args], { encoding: 'utf8', timeout: 60_000 });

test('plan and plan --json show secrets by source, size and sha256 prefix only', async () => {
  const cases: [string, unknown][] = [
    ['inline', linux({ user_data: USER_DATA, registry: { username: 'u', password: REGISTRY_PASSWORD } })],
    ['base64', linux({ user_data: b64(USER_DATA), registry: { username: 'u', password: { content: REGISTRY_PASSWORD } } })],
    ['content', linux({ user_data: { content: CONTENT_SECRET }, env: { TOKEN: REGISTRY_PASSWORD } })],
    ['unattend', windows({ unattend_xml: UNATTEND })],
    ['unattend-base64', windows({ unattend_xml: b64(UNATTEND) })],
  ];
  for (const [name, recipe] of cases) {
    const path = join(work, `${name}.json`);
    await writeFile(path, JSON.stringify(recipe));
    const stop = name.startsWith('unattend') ? [] : ['--stop-before', 'bootloader-linux.service'];
    const text = shoalInstall(['plan', '--recipe', path, ...stop]);
    const json = shoalInstall(['plan', '--recipe', path, '--json', ...stop]);
    for (const [face, r] of [
      ['plan', text],
      ['plan --json', json],
    ] as const) {
      assert.equal(r.status, 0, `${name} ${face}: ${r.stderr}`);
      assertNoSecret(`${name}: ${face} stdout`, r.stdout);
      assertNoSecret(`${name}: ${face} stderr`, r.stderr);
    }
    assert.match(text.stdout, /Secrets \(their content is never shown\):\n {2}(user_data|unattend_xml): .*\d+ bytes, sha256 [0-9a-f]{16}/, name);
    const shown = JSON.parse(json.stdout) as { recipe: Record<string, { secret?: boolean; bytes?: number; sha256?: string } | undefined> };
    const doc = shown.recipe.user_data ?? shown.recipe.unattend_xml;
    assert.equal(doc?.secret, true, name);
    assert.match(doc?.sha256 ?? '', /^[0-9a-f]{16}$/, name);
  }
});

function standInSteps(): Record<StepName, StepImpl> {
  const names: StepName[] = ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service', 'image-windows.service', 'bootloader-windows.service'];
  const step = (n: StepName): StepImpl => ({ title: `stand-in for ${n}`, async run() {} });
  return Object.fromEntries(names.map((n) => [n, step(n)])) as Record<StepName, StepImpl>;
}

test('auto mode: a controller that echoes the webhook secret in its 403 puts no secret on the console or in the log', async () => {
  const dir = join(work, 'auto');
  const task = join(dir, 'task');
  await mkdir(task, { recursive: true });
  await writeFile(join(task, 'recipe.json'), JSON.stringify(linux({ user_data: USER_DATA, registry: { username: 'u', password: REGISTRY_PASSWORD } })));
  await writeFile(join(task, 'webhook_secret'), `${WEBHOOK_SECRET}\n`);
  await writeFile(join(dir, 'cmdline'), `shoal.auto shoal.webhook=http://${controller.host} shoal.serial=SECRETS shoal.net_wait=0\n`);
  const lines: string[] = [];
  const log = join(dir, 'log.jsonl');
  const out = await runAuto({
    cmdlineFile: join(dir, 'cmdline'),
    defaultsFile: join(dir, 'no-defaults'),
    taskDir: task,
    logPath: log,
    write: (l) => lines.push(l),
    steps: standInSteps(),
    machine,
    webhookRetryDelaysMs: [],
  });
  assert.equal(out.report?.delivered, false);
  const console_ = lines.join('\n');
  assert.match(console_, /refused the report: HTTP 403 \(check the webhook secret\): forbidden: secret \*\*\* is not known here/);
  assertNoSecret('the console', console_);
  assertNoSecret('the JSON-lines log', await readFile(log, 'utf8'));
});

test('postStatus hides the webhook secret and the given secrets in what the controller says, before cutting it short', async () => {
  const logged: string[] = [];
  const outcome = await postStatus({ url: `http://${controller.host}`, serial: 'S', secret: WEBHOOK_SECRET }, makeStatusReport({ status: 'success' }), {
    retryDelaysMs: [],
    log: (m) => logged.push(m),
  });
  assert.equal(outcome.delivered, false);
  assert.ok(!outcome.delivered && outcome.reason.includes('***'));
  assertNoSecret('the webhook lines', [...logged, outcome.delivered ? '' : outcome.reason].join('\n'));
});

test('redaction: a secret of 8+ characters is hidden anywhere; a shorter one wherever it stands alone, never inside a word', () => {
  assert.equal(redactText('mkfs.ext4 -F -L root /dev/loop0p2', ['ext4']), 'mkfs.ext4 -F -L root /dev/loop0p2');
  assert.equal(redactText('login ext4 failed; --password=ext4 "ext4" u:ext4@h\next4', ['ext4']), 'login *** failed; --password=*** "***" u:***@h\n***');
  assert.equal(redactText('tokenPassw0rd1234x', [REGISTRY_PASSWORD]), 'token***x');
  assert.equal(redactText('pw abc and abcdef-ghi', ['abc', 'abcdef-ghi']), 'pw *** and ***');
});

test('runner events: a failing command that echoes a short secret shows it nowhere, and mkfs.ext4 stays mkfs.ext4', async () => {
  const recipe = parseRecipe(linux({}));
  const facts: DiskFacts = {
    path: disk,
    kind: 'image',
    name: 'disk.img',
    sizeBytes: 4 * 1024 ** 3,
    sectorSize: 512,
    readOnly: false,
    partitions: [],
    inUse: [],
    bootMedium: false,
  };
  const plan = makePlan(recipe, facts, machine, { stopBefore: 'image-linux.service' });
  const events: InstallEvent[] = [];
  const steps = standInSteps();
  steps['partition.service'] = {
    title: 'echo a secret',
    async run(ctx) {
      ctx.log('would run mkfs.ext4 on the root partition');
      await ctx.exec(['sh', '-c', 'echo "mkfs.ext4: login failed for pw" >&2; printf "pw\\nagain: pw\\n" >&2; exit 3']);
    },
  };
  const result = await runPlan(plan, { steps, secrets: ['pw', 'ext4'], onEvent: (e) => events.push(e) });
  assert.equal(result.ok, false);
  const all = JSON.stringify(events);
  const text = events.map((e) => ('message' in e ? e.message : 'command' in e ? e.command : '')).join('\n');
  assert.ok(!/(^|[^\p{L}\p{N}._/+-])(pw|ext4)(?![\p{L}\p{N}._/+-])/mu.test(text), `a short secret stands alone somewhere in:\n${text}`);
  assert.match(text, /would run mkfs\.ext4 on the root partition/);
  assert.match(text, /mkfs\.ext4: login failed for \*\*\*\n\*\*\*\nagain: \*\*\*/);
  assert.ok(all.includes('mkfs.ext4'));
});

test('property: whatever the secret fields hold, neither the plan text nor the plan as JSON contains them', () => {
  const marked = fc.string({ maxLength: 40 }).map((s) => `SECRET-${s}-END`);
  const payload = fc.oneof(
    marked,
    marked.map((s) => b64(`#cloud-config\n${s}\n`)),
    marked.map((s) => b64(`<?xml version="1.0"?><unattend>${s}</unattend>`)),
    marked.map((content) => ({ content })),
  );
  const fields = fc.record({ user_data: payload, 'ks.cfg': payload, password: payload, env: fc.dictionary(fc.constantFrom('A', 'TOKEN'), marked) }, { requiredKeys: [] });
  const facts: DiskFacts = {
    path: '/dev/sda',
    kind: 'block',
    name: 'sda',
    sizeBytes: 8 * 1024 ** 3,
    sectorSize: 512,
    readOnly: false,
    partitions: [],
    inUse: [],
    bootMedium: false,
  };
  fc.assert(
    fc.property(fields, ({ password, ...docs }) => {
      const recipe = parseRecipe(linux({ ...docs, ...(password !== undefined ? { registry: { username: 'u', password } } : {}) }));
      const plan = makePlan(recipe, facts, machine, { stopBefore: 'bootloader-linux.service' });
      const raw = [docs.user_data, docs['ks.cfg'], password].filter((v): v is string => typeof v === 'string');
      for (const shown of [renderPlan(plan), JSON.stringify(plan)]) {
        assert.ok(!shown.includes('SECRET-'), shown);
        for (const r of raw) assert.ok(!shown.includes(r), r);
      }
    }),
    { numRuns: 500 },
  );
});
