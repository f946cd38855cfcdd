/**
 * A bug that escapes the screens: the console says so on the terminal, in place of a bare login prompt, stops a
 * running install so the runner releases what it set up, and exits 1 (the unit's failure).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipUnless } from '../helpers/env.ts';
import { openTerminal, type Terminal } from '../helpers/tmux-terminal.ts';

const FIXTURE = new URL('../tui/fixtures/crashing-console.tsx', import.meta.url).pathname;
let work: string;
const terminals: Terminal[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-crash-'));
});
after(async () => {
  for (const t of terminals) t.kill();
  await rm(work, { recursive: true, force: true });
});

/** Runs the fixture on an 80x24 Linux VT in tmux; resolves with the screen after it returned, and its report. */
async function crashAt(where: 'machine' | 'install', walk: (t: Terminal) => Promise<void>) {
  const report = join(work, `${where}.json`);
  const t = openTerminal(`shoal-crash-${process.pid}-${where}`, `env -u CI -u CONTINUOUS_INTEGRATION TERM=linux node --import tsx '${FIXTURE}' ${where} '${report}'; sleep 600`, {
    keyDelayMs: 120,
    typeDelayMs: 200,
  });
  terminals.push(t);
  await walk(t);
  for (const deadline = Date.now() + 30_000; !(await readFile(report, 'utf8').catch(() => '')); await sleep(100)) {
    if (Date.now() > deadline) assert.fail(`the console did not return; the terminal shows:\n${t.screen()}`);
  }
  return { screen: t.screen(), ...(JSON.parse(await readFile(report, 'utf8')) as { code: number; cleaned: string[] }) };
}

test('a bug while the Machine screen loads: the terminal says what happened and that no disk was written', async (t) => {
  if (!skipUnless(t, ['tmux'])) return;
  const r = await crashAt('machine', async () => undefined);
  assert.equal(r.code, 1);
  assert.match(r.screen, /shoal-install stopped unexpectedly\. This is a bug in the installer:/);
  assert.match(r.screen, /Error: a planted bug \(machine\)/);
  assert.match(r.screen, /Nothing was written to any disk\./);
  assert.match(r.screen, /journalctl -b -u 'shoal-install\*'/);
});

test('a bug during the install: the runner is stopped and cleans up, and the terminal says the disk is partly written', async (t) => {
  if (!skipUnless(t, ['tmux'])) return;
  const r = await crashAt('install', async (term) => {
    await term.waitFor('WILL BE DESTROYED');
    await term.type('sda');
    await term.keys('Enter');
  });
  assert.equal(r.code, 1);
  assert.deepEqual(r.cleaned, ['detach the disk'], 'the runner carried out the cleanup partition.service registered');
  assert.match(r.screen, /Error: a planted bug \(install\)/);
  assert.match(r.screen, /The install was stopped and its mounts released\. The disk is partly written\nand will not boot as it is\./);
});
