/**
 * How inline payloads are read (README "Recipe"): a registry password is always literal; an inline user_data or
 * unattend_xml is base64 only when the decoded bytes are recognisably that payload, and the plan says which reading
 * was taken (never the content).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { MachineFacts } from '../../ops/machine.ts';
import { readInline, resolveSecretText } from '../../ops/payload.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import { prepareInstall } from '../../ops/prepare.ts';
import { runPlan, type StepImpl } from '../../ops/runner.ts';
import type { InstallEvent } from '../../ops/events.ts';
import type { StepName } from '../../ops/plan.ts';
import { parseRecipe } from '../../ops/recipe.ts';

const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SN1' };
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
let work: string;
let disk: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-reading-'));
  disk = join(work, 'disk.img');
  await writeFile(disk, '');
  await truncate(disk, 4 * 1024 ** 3);
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const recipe = (extra: Record<string, unknown>) =>
  parseRecipe({
    task_target: 'install-linux.target',
    target_disk: disk,
    oci_url: 'registry.example:8080/os/debian:12',
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
      { size: '100%', format: 'ext4', mountpoint: '/' },
    ],
    ...extra,
  });

test('a base64-looking registry password is taken literally, inline or in a file', async () => {
  // `Passw0rd1234` is 12 characters of the base64 alphabet: it used to be "decoded" into 9 bytes of garbage.
  const inline = await prepareInstall(recipe({ registry: { username: 'u', password: 'Passw0rd1234' } }), { machine });
  assert.equal(inline.inputs.registryPassword, 'Passw0rd1234');
  const file = join(work, 'registry_password');
  await writeFile(file, 'QWxhZGRpbjpvcGVu\n');
  assert.equal(await resolveSecretText({ path: file }, 'registry.password'), 'QWxhZGRpbjpvcGVu');
  assert.equal(await resolveSecretText('cGFzc3dvcmQ=', 'registry.password'), 'cGFzc3dvcmQ=');
});

test('inline user_data is decoded only when the bytes are recognisably a payload', () => {
  const decoded = (s: string | Buffer) => readInline(b64(s));
  for (const doc of [
    '#cloud-config\nhostname: a\n',
    '#!/bin/sh\necho hi\n',
    'Content-Type: multipart/mixed; boundary="x"\n',
    'MIME-Version: 1.0\n',
    '<?xml version="1.0"?>\n<unattend/>',
    '<unattend xmlns="urn:x"/>',
    '\uFEFF<?xml version="1.0"?>',
    '## template: jinja\n#cloud-config\n',
  ]) {
    const r = decoded(doc);
    assert.equal(r.reading, 'base64', doc);
    assert.equal(r.bytes.toString(), doc);
  }
  const gz = gzipSync('#cloud-config\n');
  assert.deepEqual(decoded(gz), { bytes: gz, reading: 'base64', why: 'decoded: gzip' });
  // Base64 of something else, and words that merely use the alphabet, stay the text they are.
  for (const text of ['Passw0rd1234', b64('hello world, not a payload'), 'abcdefgh', 'QUJDRA==']) {
    const r = readInline(text);
    assert.equal(r.reading, 'text', text);
    assert.equal(r.bytes.toString(), text);
  }
  assert.deepEqual(readInline('#cloud-config\n'), { bytes: Buffer.from('#cloud-config\n'), reading: 'text' });
});

test('the plan says which reading was taken, and warns when base64-looking text was kept as text', async () => {
  const config = '#cloud-config\npassword: s3cr3t-in-user-data\n';
  const decodedPlan = (await prepareInstall(recipe({ user_data: b64(config) }), { machine })).plan;
  assert.equal(decodedPlan.recipe.user_data?.reading, 'base64');
  assert.equal(decodedPlan.recipe.user_data?.bytes, Buffer.byteLength(config));
  assert.match(renderPlan(decodedPlan), /user_data: inline base64 \(decoded: cloud-init user-data\), 44 bytes, sha256 [0-9a-f]{16}/);
  assert.deepEqual(
    decodedPlan.warnings.filter((w) => w.startsWith('user_data')),
    [],
  );

  const textPlan = (await prepareInstall(recipe({ user_data: 'Passw0rd1234' }), { machine })).plan;
  assert.equal(textPlan.recipe.user_data?.reading, 'text');
  assert.ok(
    textPlan.warnings.some((w) => /^user_data: taken as text: it looks like base64, but does not decode to/.test(w)),
    textPlan.warnings.join('\n'),
  );
  assert.ok(!renderPlan(textPlan).includes('Passw0rd1234'));
});

test('the install log says which reading was taken, by size and digest, before the first step', async () => {
  const config = '#cloud-config\npassword: s3cr3t-in-user-data\n';
  const { plan, inputs, secrets } = await prepareInstall(recipe({ user_data: b64(config), registry: { username: 'u', password: 'Passw0rd1234' } }), {
    machine,
    stopBefore: 'image-linux.service',
  });
  const events: InstallEvent[] = [];
  const step: StepImpl = { title: 'nothing', async run() {} };
  await runPlan(plan, { steps: { 'partition.service': step } as Record<StepName, StepImpl>, inputs, secrets, onEvent: (e) => events.push(e) });
  const logged = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  assert.ok(
    logged.some((m) => /^user_data: inline base64 \(decoded: cloud-init user-data\), 44 bytes, sha256 [0-9a-f]{16}$/.test(m)),
    logged.join('\n'),
  );
  assert.ok(logged.includes('registry.password: inline text (taken literally)'), logged.join('\n'));
  assert.ok(!JSON.stringify(events).includes('s3cr3t') && !JSON.stringify(events).includes('Passw0rd1234'));
});
