import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chosenOn, imageBrowserReducer, initialBrowser, tagIndexOf, type ImageBrowser, type ImageBrowserAction } from '../../tui/model/image-browser.ts';

const run = (s: ImageBrowser, ...actions: ImageBrowserAction[]) => actions.reduce(imageBrowserReducer, s);

test('the Image screen opens at the repositories, at the chosen tag when coming back, or at a typed reference with no registry', () => {
  assert.equal(initialBrowser('reg:5000', undefined).mode, 'repos');
  const back = initialBrowser('reg:5000', 'reg:5000/os/debian:12');
  assert.deepEqual([back.mode, back.repo, back.typed], ['tags', 'os/debian', 'reg:5000/os/debian:12']);
  assert.equal(tagIndexOf(back, ['11', '12', '13'], chosenOn('reg:5000/os/debian:12', 'reg:5000')), 1, 'the chosen tag until the technician moves');
  assert.equal(tagIndexOf(run(back, { type: 'point-tag', index: 2 }), ['11', '12', '13'], chosenOn('reg:5000/os/debian:12', 'reg:5000')), 2);
  const none = initialBrowser(undefined, 'other:5000/os/debian:12');
  assert.deepEqual([none.mode, none.typed, none.hostText], ['type', 'other:5000/os/debian:12', '']);
  assert.equal(chosenOn('other:5000/os/debian:12', 'reg:5000'), undefined, 'an image on another registry is not in this list');
  assert.equal(chosenOn('reg:5000/os/debian@sha256:ab', 'reg:5000'), undefined, 'a digest is not a tag');
});

test('a 401 opens the login form over the list it came from; logging in goes back there and asks the registry again', () => {
  let s = run(
    initialBrowser('reg:5000', undefined),
    { type: 'open-repo', repo: 'os/debian' },
    { type: 'edit', field: 'user', value: 'ci' },
    { type: 'edit', field: 'pass', value: 'wrong' },
  );
  s = run(s, { type: 'login', prompted: true, refused: true });
  assert.deepEqual([s.mode, s.before, s.loginField, s.pass, s.message], ['login', 'tags', 1, '', 'The registry refused these credentials.']);
  assert.equal(run(s, { type: 'login', prompted: true }), s, 'a second failure while the form is open changes nothing');
  const gen = s.gen;
  s = run(s, { type: 'edit', field: 'pass', value: 'right' }, { type: 'logged-in' });
  assert.deepEqual([s.mode, s.pass, s.message, s.gen], ['tags', '', undefined, gen + 1]);
});

test('asking for the login form keeps the password typed so far; Esc goes back to the list', () => {
  let s = run(initialBrowser('reg:5000', undefined), { type: 'login' });
  assert.deepEqual([s.mode, s.before, s.loginField], ['login', 'repos', 0]);
  s = run(s, { type: 'login-field' });
  assert.equal(s.loginField, 1);
  s = run(s, { type: 'login-field' }, { type: 'edit', field: 'pass', value: 'p' }, { type: 'cancel', hasHost: true });
  assert.deepEqual([s.mode, s.pass], ['repos', 'p']);
});

test('the typed reference and host forms: Esc, a new registry, an empty one', () => {
  const s = run(initialBrowser('reg:5000', undefined), { type: 'point-repo', index: 3 }, { type: 'open-repo', repo: 'os/debian' }, { type: 'open', mode: 'type' });
  assert.equal(run(s, { type: 'cancel', hasHost: true }).mode, 'repos');
  assert.equal(run(s, { type: 'cancel', hasHost: false }).mode, 'type');
  const moved = run(s, { type: 'open', mode: 'host' }, { type: 'edit', field: 'hostText', value: ' other:5000 ' }, { type: 'registry-set' });
  assert.deepEqual([moved.mode, moved.repo, moved.repoIndex, moved.gen], ['repos', undefined, 0, s.gen + 1]);
  assert.equal(run(s, { type: 'open', mode: 'host' }, { type: 'edit', field: 'hostText', value: '  ' }, { type: 'registry-set' }).mode, 'type');
});

test('moving clears the message; a repository opens at its first tag', () => {
  const s = run(initialBrowser('reg:5000', 'reg:5000/os/debian:12'), { type: 'point-tag', index: 2 }, { type: 'message', message: 'wait for the image facts' });
  assert.equal(run(s, { type: 'point-tag', index: 1 }).message, undefined);
  assert.equal(run(s, { type: 'point-repo', index: 1 }).message, undefined);
  const opened = run(s, { type: 'back-to-repos' }, { type: 'open-repo', repo: 'os/ubuntu' });
  assert.deepEqual([opened.mode, opened.repo, opened.tagIndex], ['tags', 'os/ubuntu', undefined]);
});
