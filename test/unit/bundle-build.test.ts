// The bundle is replaced, never rewritten in place: a `node` that starts it while another test run rebuilds it must
// read one whole bundle (the fleet test once saw an install die of "SyntaxError: Unexpected end of input", having
// read a bundle esbuild had truncated and not yet written back).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/cli.ts';

test('a rebuild leaves a reader of the previous bundle its whole file, and the new bundle whole at the path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bundle-'));
  try {
    const out = join(dir, 'shoal-install.mjs');
    const previous = '// the previous bundle, as a starting install has it open\n'.repeat(1000);
    await writeFile(out, previous);
    const reader = await open(out, 'r');
    try {
      execFileSync('node', ['scripts/build.mjs', out], { cwd: REPO, stdio: 'ignore' });
      assert.equal((await reader.readFile()).toString(), previous, 'the open bundle was rewritten under its reader');
    } finally {
      await reader.close();
    }
    const built = await readFile(out, 'utf8');
    assert.ok(built.startsWith('#!/usr/bin/env node\n'), 'the new bundle is at the path');
    assert.equal(execFileSync('node', ['--check', out]).length, 0, 'the new bundle parses');
    assert.deepEqual(await readdir(dir), ['shoal-install.mjs'], 'no temporary file left beside it');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
