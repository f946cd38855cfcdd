// The layer rules on real trees in a temp dir: what the guard lets through to tar and what it refuses, and what
// the whiteouts of a layer remove (and keep), always within the root.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { LayerGuard } from '../../ops/linux/layer-guard.ts';
import type { TarEntry } from '../../ops/linux/tar-entries.ts';
import { applyWhiteouts } from '../../ops/linux/whiteouts.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tree(files: Record<string, string | { link: string }>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'layer-rules-'));
  dirs.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    if (path.endsWith('/')) await mkdir(join(root, path), { recursive: true });
    else if (typeof content === 'string') await writeFile(join(root, path), content);
    else await symlink(content.link, join(root, path));
  }
  return root;
}

const file = (path: string): TarEntry => ({ path, kind: 'file' });
const dir = (path: string): TarEntry => ({ path, kind: 'dir' });

function guardSees(root: string, entries: TarEntry[]): LayerGuard {
  const guard = new LayerGuard(root, 'layer 2 of 2');
  for (const e of entries) guard.see(e);
  return guard;
}

test('the guard refuses a way through an absolute symlink or above the root, and lets relative links within the root be', async () => {
  const host = await tree({ secret: 's' });
  const root = await tree({ esc: { link: host }, up: { link: '../..' }, 'usr/lib/x': 'x', lib: { link: 'usr/lib' } });
  assert.throws(() => guardSees(root, [file('esc/pwned')]), /\/esc on its way is a symlink to .*GNU tar would follow on the host/);
  assert.throws(() => guardSees(root, [file('up/pwned')]), /leads above the root/);
  assert.throws(() => guardSees(root, [{ path: 'x', kind: 'hardlink', linkpath: 'esc/secret' }]), /symlink to/);
  assert.throws(() => guardSees(root, [file('a/../../b')]), /climbs/);
  const ok = guardSees(root, [file('lib/new'), dir('esc'), file('esc/now-a-dir')]);
  assert.ok(ok.written.has('usr/lib/new'), 'written where the relative link leads');
  assert.ok(ok.written.has('esc/now-a-dir'), "a directory entry replaces the link: below it is the layer's own");
});

test("the guard sees this layer's own links before tar makes them: a link to / then a path through it is refused", async () => {
  const root = await tree({ 'etc/': '' });
  assert.throws(() => guardSees(root, [{ path: 'evil', kind: 'symlink', linkpath: '/' }, file('evil/etc/passwd')]), /\/evil on its way is a symlink to \//);
});

test('a lower directory replaced by a file is removed first; whiteout files are recorded, never passed as written', async () => {
  const root = await tree({ 'd/inner/f': 'lower', 'keep/x': 'x' });
  const guard = guardSees(root, [file('d'), file('.wh.gone'), file('keep/.wh..wh..opq')]);
  assert.deepEqual(guard.replacedDirs, ['d']);
  assert.ok(!existsSync(join(root, 'd')));
  assert.deepEqual([guard.whiteouts, guard.opaque, [...guard.written]], [['.wh.gone'], ['keep'], ['d']]);
});

test("whiteouts: NAME of the layers below removed, this layer's own paths kept, opaque dirs keep only this layer; all within the root", async () => {
  const host = await tree({ victim: 'v' });
  const root = await tree({
    'gone/deep/f': 'lower',
    'redo/old': 'lower',
    'redo/new': 'this layer',
    'opq/a': 'lower',
    'opq/sub/b': 'lower',
    'opq/sub/mine': 'this layer',
    'opq/mine': 'this layer',
    'keep/x': 'lower',
    wsym: { link: host },
    rel: { link: 'keep' },
    'keep/byrel': 'lower',
  });
  const result = await applyWhiteouts(root, {
    written: new Set(['redo', 'redo/new', 'opq/mine', 'opq/sub/mine']),
    whiteouts: ['.wh.gone', '.wh.redo', 'wsym/.wh.victim', 'rel/.wh.byrel', '.wh.absent', 'keep/.wh..'],
    opaque: ['opq'],
    replacedDirs: [],
  });
  assert.ok(!existsSync(join(root, 'gone')));
  assert.deepEqual(await readdir(join(root, 'redo')), ['new']);
  assert.deepEqual((await readdir(join(root, 'opq'))).sort(), ['mine', 'sub']);
  assert.deepEqual(await readdir(join(root, 'opq/sub')), ['mine']);
  assert.deepEqual(await readdir(join(root, 'keep')), ['x'], 'a whiteout below a relative link applies where the link leads');
  assert.deepEqual(await readdir(host), ['victim'], 'a whiteout below a link to the host removes nothing there');
  assert.deepEqual(result.skipped.sort(), ['.wh.absent', 'keep/.wh..', 'wsym/.wh.victim']);
});
