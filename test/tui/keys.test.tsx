/**
 * Keys that arrive together (a serial line's burst, a paste, tmux send-keys) act one after the other, each on
 * the screen the previous one left: Ink renders asynchronously, so this is not a given.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { Key } from 'ink';
import { cleanup } from 'ink-testing-library';
import { KeyRouter, NO_KEY } from '../../tui/hooks/useKeys.tsx';
import { fromRecipe } from '../../tui/model/wizard.ts';
import { ESP_ROOT_RECIPE, KEY, makeSession, renderApp } from './helpers.tsx';

process.env.TERM = 'vt220';
afterEach(() => cleanup());

test('a burst of keys in one read: Tab, three Downs and Enter pick the fourth preset', async () => {
  const h = makeSession();
  const ui = renderApp(h, { ...fromRecipe(ESP_ROOT_RECIPE, await h.session.disk('/dev/sda')), screen: 'layout' });
  await ui.waitFor('the planner accepts it');
  ui.stdin.write(`${KEY.tab}${KEY.down}${KEY.down}${KEY.down}${KEY.enter}`);
  await ui.waitFor(/EFI \+ cidata \+ root\s+\(in use\)/);
  // Enter (edit), a new size typed at once, Enter (keep): the burst lands in the field opened by its first key.
  ui.stdin.write(`${KEY.enter}${KEY.ctrlU}1G${KEY.enter}`);
  await ui.waitFor(/1\s+1G\s+1\.0 GiB\s+ef00/);
});

test('the disk name and Enter pasted in one go start the install', async () => {
  const h = makeSession();
  const ui = renderApp(h, fromRecipe(ESP_ROOT_RECIPE, await h.session.disk('/dev/sda')));
  await ui.waitFor('WILL BE DESTROYED');
  ui.stdin.write('sda\r');
  await ui.waitFor('Installed Linux onto sda');
  assert.deepEqual(h.script.ran, ['partition.service', 'image-linux.service', 'bootloader-linux.service']);
});

test('keys typed right after a screen change reach the new screen', async () => {
  const h = makeSession();
  const ui = renderApp(h);
  await ui.waitFor('SRV-0042');
  await ui.waitFor('answers (2 repositories)');
  ui.stdin.write(KEY.enter);
  await ui.waitFor('nvme0n1');
  ui.stdin.write(`${KEY.enter}t`);
  await ui.waitFor('Image reference');
  ui.stdin.write('registry.test:5000/os-images/debian:11\r');
  await ui.waitFor('Linux rootfs (gzip)');
  ui.stdin.write('\r');
  await ui.waitFor('Partitions for Linux on sda');
});

test('an arrow key split across two reads (serial-over-LAN) is still an arrow, not Esc', async () => {
  const h = makeSession();
  const ui = renderApp(h, { ...fromRecipe(ESP_ROOT_RECIPE, await h.session.disk('/dev/sda')), screen: 'disk' });
  await ui.waitFor('nvme0n1');
  await ui.waitFor(/> sda/);
  ui.stdin.write('\u001B');
  await new Promise((r) => setTimeout(r, 15));
  ui.stdin.write('[B');
  await ui.waitFor(/> sdb/);
  assert.match(ui.frame(), /\[Disk\]/, 'still on the Disk screen');
  // A real Esc still goes back, after a short wait for a sequence that does not come.
  ui.stdin.write('\u001B');
  await ui.waitFor('Enter: choose the disk');
});

test('on a console slower to draw than the settle time, Enter after typed text reads the text with its last character', async () => {
  const router = new KeyRouter();
  // The screen's state as its last committed frame has it; each frame takes 150 ms to draw (SETTLE_MS is 40).
  let committed = '';
  let typing = '';
  let seenByEnter: string | undefined;
  const field = {
    active: true,
    handler: (input: string, key: Key) => {
      if (key.return) return;
      typing += input;
      router.expectCommit();
      const frame = typing;
      setTimeout(() => {
        committed = frame;
        router.committed();
      }, 150);
    },
  };
  const screen = { active: true, handler: (_: string, key: Key) => key.return && (seenByEnter = committed) };
  router.entries.add(field);
  router.entries.add(screen);
  router.push('vda\r', NO_KEY);
  for (let i = 0; i < 100 && seenByEnter === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(seenByEnter, 'vda');
  router.dispose();
});
