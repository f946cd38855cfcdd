import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cmdlineParams, DEFAULT_DETECT_WAIT_SECONDS, DEFAULT_NET_WAIT_SECONDS, DEFAULT_TASK_WAIT_SECONDS, parseKernelArgs, splitCmdline } from '../../ops/kargs.ts';

const BOOT = 'BOOT_IMAGE=/vmlinuz root=live:CDLABEL=SHOAL rd.live.image quiet console=tty0 console=ttyS0,115200n8';

test('the command line splits like the kernel splits it: double quotes keep spaces and are dropped', () => {
  assert.deepEqual(splitCmdline('a  b\tc\n'), ['a', 'b', 'c']);
  assert.deepEqual(splitCmdline('shoal.kargs="console=ttyS0 quiet" x'), ['shoal.kargs=console=ttyS0 quiet', 'x']);
  assert.deepEqual(splitCmdline('"shoal.kargs=a b" x'), ['shoal.kargs=a b', 'x']);
  assert.deepEqual(splitCmdline('shoal.kargs="" x'), ['shoal.kargs=', 'x']);
  assert.deepEqual(cmdlineParams('shoal.auto shoal.kargs="a=b c" -- init-arg'), [
    { key: 'shoal.auto', value: undefined },
    { key: 'shoal.kargs', value: 'a=b c' },
    { key: 'init-arg', value: undefined },
  ]);
});

test('shoal.auto alone or =1 turns auto mode on, =0 off; absent is undefined; other words are not ours', () => {
  assert.equal(parseKernelArgs(`${BOOT} shoal.auto`).args.auto, true);
  assert.equal(parseKernelArgs(`${BOOT} shoal.auto=1`).args.auto, true);
  assert.equal(parseKernelArgs(`${BOOT} shoal.auto=0`).args.auto, false);
  const none = parseKernelArgs(BOOT);
  assert.equal(none.args.auto, undefined);
  assert.deepEqual(none.warnings, []);
  assert.deepEqual(none.problems, []);
  assert.equal(none.args.taskWaitSeconds, DEFAULT_TASK_WAIT_SECONDS);
  assert.equal(none.args.detectWaitSeconds, DEFAULT_DETECT_WAIT_SECONDS);
  assert.equal(none.args.netWaitSeconds, DEFAULT_NET_WAIT_SECONDS);
  assert.match(parseKernelArgs('shoal.auto=maybe').problems.join(), /shoal\.auto \("maybe"\): a switch/);
});

test('every override is read: recipe source, webhook, serial, disk, image, kargs, power, registry trust, wait', () => {
  const { args, problems, warnings } = parseKernelArgs(
    [
      BOOT,
      'shoal.auto',
      'shoal.recipe=/dev/sr2',
      'shoal.webhook=https://controller.example:8443/shoal',
      'shoal.serial=SN-42',
      'shoal.disk=/dev/nvme0n1',
      'shoal.image=controller:8080/os-images/debian:12',
      'shoal.kargs="console=ttyS0,115200 quiet"',
      'shoal.poweroff',
      'shoal.plain_http=controller:8080,10.0.2.2:5000,[fd00::1]:8080',
      'shoal.registry_ca=certs/ca.pem',
      'shoal.task_wait=5',
      'shoal.detect_wait=7',
      'shoal.net_wait=0',
    ].join(' '),
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(args, {
    auto: true,
    recipe: { kind: 'device', device: '/dev/sr2' },
    webhook: 'https://controller.example:8443/shoal',
    webhookSecret: undefined,
    serial: 'SN-42',
    disk: '/dev/nvme0n1',
    image: 'controller:8080/os-images/debian:12',
    kargs: 'console=ttyS0,115200 quiet',
    after: 'poweroff',
    plainHttp: ['controller:8080', '10.0.2.2:5000', '[fd00::1]:8080'],
    registryCa: 'certs/ca.pem',
    taskWaitSeconds: 5,
    detectWaitSeconds: 7,
    netWaitSeconds: 0,
    registryOverrides: {},
    busyPatienceSeconds: undefined,
  });
  assert.deepEqual(parseKernelArgs('shoal.recipe=/srv/job/recipe.json').args.recipe, { kind: 'file', path: '/srv/job/recipe.json' });
  assert.deepEqual(parseKernelArgs('shoal.recipe=http://10.0.2.2:8000/r.json').args.recipe, { kind: 'url', url: 'http://10.0.2.2:8000/r.json' });
  assert.equal(parseKernelArgs('shoal.reboot=1').args.after, 'reboot');
  assert.equal(parseKernelArgs('shoal.kargs=').args.kargs, '', "an empty shoal.kargs= clears the recipe's kernel_args");
});

test('bad values are problems that name the key; the valid keys still parse (the webhook can still be told)', () => {
  const { args, problems } = parseKernelArgs(
    'shoal.auto shoal.webhook=http://10.0.2.2:9000 shoal.recipe=relative.json shoal.disk=sda shoal.plain_http=bad/host shoal.task_wait=soon shoal.image shoal.webhook_secret=',
  );
  assert.equal(args.webhook, 'http://10.0.2.2:9000');
  assert.equal(args.recipe, undefined);
  const text = problems.join('\n');
  assert.match(text, /shoal\.recipe \("relative\.json"\): a recipe file/);
  assert.match(text, /shoal\.disk \("sda"\): an absolute device path/);
  assert.match(text, /shoal\.plain_http .*"bad\/host" is not HOST or HOST:PORT/);
  assert.match(text, /shoal\.task_wait \("soon"\): whole seconds/);
  assert.match(text, /shoal\.image: needs a value/);
  assert.match(text, /shoal\.webhook_secret: is empty/);
  assert.equal(problems.length, 6);
  assert.match(parseKernelArgs('shoal.webhook=ftp://x').problems.join(), /shoal\.webhook \("ftp:\/\/x"\): an http\(s\) URL/);
  assert.match(parseKernelArgs('shoal.detect_wait=601').problems.join(), /shoal\.detect_wait \("601"\): at most 600 s/);
  assert.match(parseKernelArgs('shoal.net_wait=-1').problems.join(), /shoal\.net_wait \("-1"\): whole seconds, 0 to 3600/);
  assert.match(parseKernelArgs('shoal.poweroff shoal.reboot').problems.join(), /both set: choose one/);
});

test('unknown shoal.* keys and repeats are warnings, not failures; the unknown value is not echoed', () => {
  const { args, warnings, problems } = parseKernelArgs('shoal.auto shoal.webhok=http://x/?token=abc shoal.disk=/dev/sda shoal.disk=/dev/sdb');
  assert.deepEqual(problems, []);
  assert.equal(args.disk, '/dev/sdb', 'the last one counts, as in the kernel');
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^shoal\.webhok: unknown shoal\.\* kernel argument, ignored \(known: .*shoal\.webhook,/);
  assert.ok(!warnings.join().includes('token=abc'));
  assert.match(warnings[1]!, /shoal\.disk is given more than once/);
});

test('a webhook secret on the command line works but is warned about loudly, and is never echoed', () => {
  const { args, warnings, problems } = parseKernelArgs('shoal.auto shoal.webhook=http://c:9 shoal.webhook_secret=s3cr3t-value');
  assert.deepEqual(problems, []);
  assert.equal(args.webhookSecret, 's3cr3t-value');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /readable by every user .*webhook_secret file beside recipe\.json/);
  assert.ok(!warnings.join().includes('s3cr3t-value'));
});

test('registry credentials on the command line are refused, with where to put them instead, and not echoed', () => {
  for (const key of ['registry_password', 'registry_username', 'registry_token']) {
    const { problems, args } = parseKernelArgs(`shoal.auto shoal.${key}=hunter2-pw shoal.webhook=http://c:9`);
    assert.equal(problems.length, 1, key);
    assert.match(problems[0]!, new RegExp(`^shoal\\.${key}: registry credentials are never taken from the kernel command line`));
    assert.match(problems[0]!, /registry_password file beside recipe\.json on the task ISO/);
    assert.ok(!problems[0]!.includes('hunter2-pw'));
    assert.equal(args.webhook, 'http://c:9');
  }
});
