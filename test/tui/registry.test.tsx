import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import type { Prepared } from '../../ops/prepare.ts';
import type { Recipe } from '../../ops/recipe.ts';
import { assertFrames, fixturePrepare, KEY, makeSession, renderApp, type Harness } from './helpers.tsx';

process.env.TERM = 'linux';
afterEach(() => cleanup());

async function toImage(h: Harness) {
  const ui = renderApp(h);
  await ui.waitFor('SRV-0042');
  await ui.press(KEY.enter);
  await ui.waitFor('nvme0n1');
  await ui.press(KEY.enter);
  await ui.waitFor('[Image]');
  return ui;
}

test('a registry that answers 401 asks for credentials, then lists; the password is never shown and reaches the install', async () => {
  const seen: Recipe[] = [];
  const h = makeSession({ auth: { username: 'tech', password: 'pa55-word-x' } });
  const real = fixturePrepare(() => h.disks);
  h.session.deps.prepare = async (recipe, opts): Promise<Prepared> => {
    seen.push(recipe);
    return real(recipe, opts);
  };
  const ui = await toImage(h);
  await ui.waitFor('registry.test:5000 wants credentials (HTTP 401).');
  assert.match(ui.frame(), /Tab next field\s+Enter log in\s+Esc cancel/);
  await ui.type('tech');
  await ui.press(KEY.tab);
  await ui.type('wrong');
  await ui.press(KEY.enter);
  await ui.waitFor('The registry refused these credentials.');
  assert.match(ui.frame(), /► Password/);
  await ui.type('pa55-word-x');
  await ui.waitFor(/Password\s+\*{11}/);
  await ui.press(KEY.enter);
  await ui.waitFor('Repositories (2)');
  assert.match(ui.frame(), /Registry registry\.test:5000 \(as tech\)/);
  await ui.press(KEY.enter);
  await ui.waitFor('Linux rootfs (zstd)');
  await ui.press(KEY.enter);
  await ui.waitFor('the planner accepts it');
  await ui.press('n');
  await ui.waitFor('Settings');
  await ui.press(KEY.enter);
  await ui.waitFor('WILL BE DESTROYED');
  assert.equal(seen[0]?.registry?.username, 'tech');
  assert.deepEqual(seen[0]?.registry?.password, { content: 'pa55-word-x' });
  for (const f of ui.frames) assert.ok(!f.includes('pa55-word-x'), 'the password is never drawn');
  assertFrames(ui.frames, 'linux');
});

test('typing a reference: looked up, its facts shown, chosen; a Windows WIM leads to the Windows layout', async () => {
  const h = makeSession();
  const ui = await toImage(h);
  await ui.waitFor('Repositories (2)');
  await ui.press('t');
  await ui.waitFor('Image reference (HOST[:PORT]/REPO:TAG');
  await ui.type('registry.test:5000/os-images/nothing:1');
  await ui.press(KEY.enter);
  await ui.waitFor('not found in the registry (HTTP 404)');
  await ui.press(KEY.ctrlU);
  await ui.type('registry.test:5000/os-images/windows-server:2022');
  await ui.press(KEY.enter);
  await ui.waitFor('Windows WIM');
  assert.match(ui.frame(), /File\s+install\.wim/);
  assert.match(ui.frame(), /Size\s+5\.0 GiB/);
  await ui.press(KEY.enter);
  await ui.waitFor('Partitions for Windows on sda');
  assert.match(ui.frame(), /EFI \+ MSR \+ Windows/);
});

test("a container image: the OS from its labels, the layer count, the total size and the platform's digest, before any pull", async () => {
  const h = makeSession();
  const ui = await toImage(h);
  await ui.waitFor('Repositories (2)');
  await ui.press('t');
  await ui.waitFor('Image reference (HOST[:PORT]/REPO:TAG');
  await ui.type('registry.test:5000/os-images/bootc-debian:13');
  await ui.press(KEY.enter);
  await ui.waitFor('Linux container image');
  assert.match(ui.frame(), /OS\s+Debian bootc 13\.2/);
  assert.match(ui.frame(), /Size\s+742 MiB in 5 layers/);
  assert.match(ui.frame(), /Digest\s+sha256:9f9f9f9f[\s\S]*\(linux\/amd64\)/);
});

test('with no registry set, the Image screen asks for a reference; h names the registry to browse', async () => {
  const h = makeSession({ registry: null });
  const ui = await toImage(h);
  await ui.waitFor('No registry set');
  await ui.waitFor('Image reference');
  await ui.press(KEY.esc);
  await ui.waitFor('nvme0n1');
  await ui.press(KEY.enter);
  await ui.waitFor('Image reference');
  await ui.type('x');
  await ui.press(KEY.ctrlU);
  await ui.press(KEY.esc);
  await ui.waitFor('nvme0n1');
  assert.equal(h.session.registry().host, undefined);
  h.session.useRegistry('registry.test:5000');
  await ui.press(KEY.enter);
  await ui.waitFor('Repositories (2)');
  await ui.press('h');
  await ui.waitFor("The controller's registry (HOST[:PORT])");
  assert.match(ui.frame(), /registry\.test:5000/);
  await ui.press(KEY.esc);
  await ui.waitFor('Repositories (2)');
});
