/**
 * What each console can draw: a tour of every screen and state (lists, the layout editor, the login form,
 * the plan, the install with its bar, the log, abort, failure, done) under TERM=linux, vt220 and xterm, with
 * every frame checked: at most 23 lines of at most 80 columns, and only the characters that console has.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import { ensureTerminalSize } from '../../ops/console-session.ts';
import { consoleKind } from '../../tui/theme.ts';
import { assertFrames, KEY, makeSession, renderApp } from './helpers.tsx';

afterEach(() => cleanup());

async function tour(term: string) {
  process.env.TERM = term;
  const kind = consoleKind();
  const h = makeSession({
    auth: { username: 'tech', password: 'pw-1234' },
    script: { fail: { step: 'config-drive.service', message: 'mcopy failed: disk full', hint: 'make the cidata partition larger', times: 1 }, imageBytes: 64 * 1024 * 1024 },
  });
  const ui = renderApp(h, undefined, kind);
  await ui.waitFor('SRV-0042');
  await ui.press('q');
  await ui.waitFor('Quit the installer?');
  await ui.press('n', KEY.enter);
  await ui.waitFor('nvme0n1');
  await ui.press(KEY.down, KEY.enter);
  await ui.waitFor('cannot be chosen');
  await ui.press(KEY.up, KEY.enter);
  await ui.waitFor('wants credentials');
  await ui.type('tech');
  await ui.press(KEY.tab);
  await ui.type('pw-1234');
  await ui.press(KEY.enter);
  await ui.waitFor('Repositories (2)');
  await ui.press(KEY.enter);
  await ui.waitFor('Linux rootfs (zstd)');
  await ui.press('t');
  await ui.waitFor('Image reference');
  await ui.press(KEY.esc);
  await ui.waitFor('Repositories (2)');
  await ui.press(KEY.enter);
  await ui.waitFor('Linux rootfs (zstd)');
  await ui.press(KEY.enter);
  await ui.waitFor('the planner accepts it');
  await ui.press(KEY.tab, KEY.down, KEY.down, KEY.down, KEY.enter);
  await ui.waitFor('cidata');
  await ui.press(KEY.enter);
  await ui.waitFor('Edit partition 1');
  await ui.press(KEY.down);
  await ui.press(KEY.right, KEY.left);
  await ui.press(KEY.down, KEY.down, KEY.down);
  await ui.press(KEY.ctrlU);
  await ui.type('/efi');
  await ui.waitFor('Refused by the planner');
  await ui.press(KEY.esc);
  await ui.press('n');
  await ui.waitFor('Settings');
  await ui.type('bad_host_name!');
  await ui.waitFor('Hostname: a DNS host name');
  await ui.press(KEY.ctrlU);
  await ui.type('web-01');
  await ui.press(KEY.down, KEY.down);
  await ui.type('/nonexistent/user-data');
  await ui.waitFor('cannot read it (ENOENT)');
  await ui.press(KEY.ctrlU, KEY.enter);
  await ui.waitFor('WILL BE DESTROYED');
  await ui.press(KEY.pageDown, KEY.pageDown, KEY.down, KEY.up);
  await ui.type('nope');
  await ui.press(KEY.enter);
  await ui.waitFor('Refused');
  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('The install failed at config-drive.service');
  await ui.press('l');
  await ui.waitFor('Full log');
  await ui.press(KEY.up, KEY.pageDown, KEY.esc);
  await ui.waitFor('r retry');
  await ui.press('r');
  await ui.waitFor('Run the same plan again?');
  await ui.press('y');
  await ui.waitFor('Installed Linux onto sda');
  await ui.press(KEY.pageDown);
  await ui.press('p');
  await ui.waitFor('Power off now?');
  await ui.press('n');
  assertFrames(ui.frames, kind);
  return ui.frames;
}

test('TERM=linux: only the Linux VT font glyphs, single-line boxes, an ASCII spinner', async () => {
  const frames = await tour('linux');
  const all = frames.join('');
  assert.ok(all.includes('┌') && all.includes('│'), 'single-line box drawing');
  assert.ok(!/[╭╮╯╰]/.test(all), 'no rounded corners');
  assert.ok(all.includes('█') && all.includes('√') && all.includes('►'));
});

test('TERM=vt220 (serial): ASCII only', async () => {
  const frames = await tour('vt220');
  const all = frames.join('');
  assert.ok(all.includes('+---'), 'classic ASCII box');
  assert.ok(all.includes('#'), 'ASCII progress bar');
});

test('TERM=xterm-256color: the nicer glyphs', async () => {
  const frames = await tour('xterm-256color');
  assert.ok(frames.join('').includes('╭'), 'rounded borders on a developer terminal');
});

test('a serial console of unknown size gets 80x24 before anything is drawn', () => {
  const fake = { columns: 0, rows: 0 } as unknown as NodeJS.WriteStream;
  const size = ensureTerminalSize(fake);
  assert.deepEqual(size, { columns: 80, rows: 24, guessed: true });
  assert.equal(fake.columns, 80);
  assert.equal(fake.rows, 24);
  const known = { columns: 132, rows: 43 } as unknown as NodeJS.WriteStream;
  assert.deepEqual(ensureTerminalSize(known), { columns: 132, rows: 43, guessed: false });
});

test('the theme follows TERM', () => {
  assert.equal(consoleKind({ TERM: 'linux' }), 'linux');
  assert.equal(consoleKind({ TERM: 'vt220' }), 'serial');
  assert.equal(consoleKind({ TERM: 'vt100' }), 'serial');
  assert.equal(consoleKind({}), 'serial');
  assert.equal(consoleKind({ TERM: 'dumb' }), 'serial');
  assert.equal(consoleKind({ TERM: 'xterm-256color' }), 'rich');
  assert.equal(consoleKind({ TERM: 'screen-256color' }), 'rich');
});
