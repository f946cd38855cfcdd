/**
 * shoal.conf: its syntax (the kernel command line's words, newlines, `#` comments), its bounded read, and how the
 * three sources merge per key with the log saying where each setting came from.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseShoalWords, cmdlineParams } from '../../ops/kargs.ts';
import { imageSource, kernelSource, MAX_CONF_BYTES, mergeSettings, parseConf, readConfText, settingOrigins, taskSource, type SettingsSource } from '../../ops/settings.ts';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'settings-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const F = '/etc/shoal/shoal.conf';

test('shoal.conf: words on one line or many, # comments to the end of the line, quotes keep spaces', () => {
  const { values, problems, warnings } = parseConf(
    [
      '# the controller of rack 7',
      'shoal.webhook=http://10.0.0.1:8080   shoal.poweroff # after a good install',
      '',
      '\tshoal.kargs="console=ttyS0,115200 quiet"  # the installed system',
      'shoal.serial=RACK7#12 shoal.net_wait=30\r',
      'shoal.image=reg:5000/os/debian:12#not-a-comment-start',
    ].join('\n'),
    F,
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(values, {
    webhook: 'http://10.0.0.1:8080',
    poweroff: true,
    kargs: 'console=ttyS0,115200 quiet',
    serial: 'RACK7#12',
    net_wait: 30,
    image: 'reg:5000/os/debian:12#not-a-comment-start',
  });
});

test('shoal.conf: a bad word names the file and the word (a value after = is not echoed); an open quote is refused', () => {
  const { problems, warnings } = parseConf(
    ['shoal.webhook=ftp://x', 'webhook_secret=hunter2-typed-without-prefix', 'auto', 'shoal.kargs="a b', 'shoal.registry_password=pw1', 'shoal.typo=1'].join('\n'),
    F,
  );
  assert.deepEqual(problems, [
    `${F} line 4: a double quote is not closed on its line`,
    `"webhook_secret=..." in ${F}: not a shoal.* setting (shoal.KEY or shoal.KEY=VALUE)`,
    `"auto" in ${F}: not a shoal.* setting (shoal.KEY or shoal.KEY=VALUE)`,
    `shoal.registry_password in ${F}: registry credentials are never taken from shoal.conf: put the password in a registry_password file beside recipe.json on the task ISO, or in the recipe's registry block`,
    `shoal.webhook ("ftp://x") in ${F}: an http(s) URL of the Shoal controller`,
  ]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^shoal\.typo in \/etc\/shoal\/shoal\.conf: unknown shoal\.\* setting, ignored/);
  const all = problems.join('\n') + warnings.join('\n');
  assert.ok(!all.includes('hunter2') && !all.includes('pw1'));
});

test('shoal.conf: a webhook secret is a setting like the others there (no kernel-command-line warning), and is never shown', () => {
  const parsed = parseConf('shoal.webhook=http://c:9 shoal.webhook_secret=s3cr3t', F);
  assert.deepEqual(parsed.warnings, []);
  const settings = mergeSettings([{ origin: 'image', label: 'the image', ...parsed }]);
  assert.equal(settings.args.webhookSecret, 's3cr3t');
  assert.ok(!settingOrigins(settings).join('\n').includes('s3cr3t'));
  assert.ok(settingOrigins(settings).includes('shoal.webhook_secret (value not shown) from the image'));
  // On the kernel command line it is warned about, as before.
  assert.match(parseShoalWords(cmdlineParams('shoal.webhook_secret=s3cr3t')).warnings.join(), /readable by every user/);
});

const source = (origin: SettingsSource['origin'], label: string, text: string): SettingsSource => ({ origin, label, ...parseConf(text, label) });

test('precedence per key: kernel command line, then the task ISO, then the image; the log says where each came from', () => {
  const kernel: SettingsSource = { origin: 'kernel', label: 'the kernel command line', ...parseShoalWords(cmdlineParams('quiet shoal.serial=K shoal.reboot')) };
  const task = source('task', "the task ISO's shoal.conf", 'shoal.webhook=http://task:1/hook?token=abc shoal.serial=T shoal.poweroff shoal.task_wait=5');
  const image = source('image', "the image's defaults", 'shoal.webhook=http://image:1 shoal.serial=I shoal.net_wait=9 shoal.task_wait=7');
  const s = mergeSettings([kernel, task, image]);
  assert.deepEqual(s.problems, []);
  assert.equal(s.args.serial, 'K');
  assert.equal(s.args.webhook, 'http://task:1/hook?token=abc');
  assert.equal(s.args.taskWaitSeconds, 5);
  assert.equal(s.args.netWaitSeconds, 9);
  assert.equal(s.args.after, 'reboot', "the kernel's shoal.reboot beats the task ISO's shoal.poweroff: they are one setting");
  assert.deepEqual(settingOrigins(s), [
    "shoal.webhook=http://task:1/hook from the task ISO's shoal.conf",
    'shoal.serial=K from the kernel command line',
    'shoal.reboot from the kernel command line',
    "shoal.task_wait=5 from the task ISO's shoal.conf",
    "shoal.net_wait=9 from the image's defaults",
  ]);
  // Without the kernel's word, the task ISO's shoal.poweroff counts; shoal.poweroff=0 above the image's turns it off.
  assert.equal(mergeSettings([task, image]).args.after, 'poweroff');
  assert.equal(mergeSettings([source('task', 't', 'shoal.poweroff=0'), source('image', 'i', 'shoal.poweroff')]).args.after, undefined);
});

test('a bad word anywhere is a problem, even when a higher source sets the key', () => {
  const s = mergeSettings([source('kernel', 'k', 'shoal.disk=/dev/sda'), undefined, source('image', 'i', 'shoal.disk=sda')]);
  assert.equal(s.args.disk, '/dev/sda');
  assert.deepEqual(s.problems, ['shoal.disk ("sda") in i: an absolute device path like /dev/sda']);
});

test('read bounded: absent is nothing; a link, a directory, a FIFO and an oversized file are refused by name; the cap itself is fine', async () => {
  const dir = join(work, 'read');
  await mkdir(dir);
  assert.equal(await readConfText(join(dir, 'none')), undefined);
  await writeFile(join(dir, 'real'), 'shoal.auto\n');
  await symlink(join(dir, 'real'), join(dir, 'link'));
  await mkdir(join(dir, 'adir'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await writeFile(join(dir, 'big'), `#${'x'.repeat(MAX_CONF_BYTES)}\n`);
  await writeFile(join(dir, 'cap'), `shoal.auto #${'x'.repeat(MAX_CONF_BYTES - 12)}`);
  assert.deepEqual(await readConfText(join(dir, 'real'), 'R'), { text: 'shoal.auto\n' });
  assert.deepEqual(await readConfText(join(dir, 'link'), 'L'), { problem: 'L is a symbolic link: it must be a regular file' });
  assert.deepEqual(await readConfText(join(dir, 'adir'), 'D'), { problem: `D: ${join(dir, 'adir')} is a directory, not a regular file` });
  assert.deepEqual(await readConfText(join(dir, 'fifo'), 'P'), { problem: `P: ${join(dir, 'fifo')} is a FIFO, not a regular file` }, 'a FIFO is not waited on');
  assert.deepEqual(await readConfText(join(dir, 'big'), 'B'), { problem: `B: ${join(dir, 'big')} is larger than the limit of 64.0 KiB` });
  const cap = await readConfText(join(dir, 'cap'));
  assert.ok(cap && 'text' in cap && cap.text.length === MAX_CONF_BYTES);
});

test("the task ISO's shoal.conf cannot name another recipe; the image's can; the kernel command line file is read", async () => {
  const dir = join(work, 'sources');
  await mkdir(join(dir, 'task'), { recursive: true });
  await writeFile(join(dir, 'task/shoal.conf'), 'shoal.recipe=http://elsewhere/r.json shoal.serial=T\n');
  await writeFile(join(dir, 'defaults'), 'shoal.recipe=/srv/job/recipe.json\n');
  await writeFile(join(dir, 'cmdline'), 'BOOT_IMAGE=/live/vmlinuz boot=live shoal.webhook=http://k:1 systemd.wants=x.service\n');
  const task = (await taskSource(join(dir, 'task')))!;
  assert.equal(task.values.recipe, undefined);
  assert.equal(task.values.serial, 'T');
  assert.match(
    task.problems.join(),
    /^shoal\.recipe in shoal\.conf on the task ISO: the task ISO is already found .* put shoal\.recipe= on the kernel command line or in \/etc\/shoal\/shoal\.conf$/,
  );
  assert.deepEqual((await imageSource(join(dir, 'defaults')))!.values.recipe, { kind: 'file', path: '/srv/job/recipe.json' });
  assert.equal(await imageSource(join(dir, 'no-defaults')), undefined);
  assert.equal(await taskSource(join(dir, 'no-task')), undefined);
  const { source: kernel, words } = await kernelSource(join(dir, 'cmdline'));
  assert.equal(kernel.values.webhook, 'http://k:1');
  assert.ok(words.some((w) => w.key === 'systemd.wants' && w.value === 'x.service'));
  assert.match((await kernelSource(join(dir, 'nope'))).source.problems.join(), /cannot read the kernel command line from .*nope: ENOENT/);
});
