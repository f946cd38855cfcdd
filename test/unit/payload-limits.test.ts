/**
 * Payloads, the recipe and the `shoal.recipe=` URL are read with limits (ops/bounded-input.ts): regular files only
 * (a FIFO or /dev/zero is refused at once, never waited on), at most 16 MiB counted as it arrives, and a URL's
 * whole answer within a time limit. Each failure is bad input naming the field, the source and the limit.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runAuto } from '../../ops/auto.ts';
import { fetchBody, INPUT_LIMIT, InputError, readRegularFile } from '../../ops/bounded-input.ts';
import { makeStatusReport, postStatus } from '../../ops/report.ts';
import { runCli } from '../helpers/cli.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

let work: string;
let server: TestServer;
/** Bytes the endless route managed to push before the client stopped reading. */
let endlessSent = 0;
let endlessClosed: Promise<void> = Promise.resolve();

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-limits-'));
  server = await serve((req, res) => {
    if (req.url === '/endless' || req.url?.endsWith('/status-webhook/ENDLESS')) {
      // No Content-Length and no end: write as fast as the client reads, forever.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(1024 * 1024, 0x41);
      endlessSent = 0;
      endlessClosed = new Promise((resolve) => res.once('close', resolve));
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) endlessSent += chunk.length;
        if (!res.destroyed) endlessSent += chunk.length;
      };
      res.on('drain', pump);
      pump();
    } else if (req.url === '/declared-huge') {
      res.writeHead(200, { 'content-length': String(INPUT_LIMIT + 1) });
      res.write('x');
    } else if (req.url === '/held') {
      // Headers and one byte, then nothing: the answer is held open until the client gives up.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('#');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('#cloud-config\n');
    }
  });
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const url = (path: string) => `http://${server.host}${path}`;
const inputError = (pattern: RegExp) => (e: unknown) => e instanceof InputError && pattern.test(e.message);

test('a FIFO, a character device or a directory is refused at once as not a regular file', { timeout: 20_000 }, async () => {
  const fifo = join(work, 'user-data.fifo');
  execFileSync('mkfifo', [fifo]);
  // No writer ever opens the FIFO: a blocking open would hang here until the test runner's timeout.
  await assert.rejects(readRegularFile(fifo, 'user_data'), inputError(/^user_data: .*user-data\.fifo is a FIFO, not a regular file$/));
  await assert.rejects(readRegularFile('/dev/zero', 'unattend_xml'), inputError(/^unattend_xml: \/dev\/zero is a character device, not a regular file$/));
  await assert.rejects(readRegularFile(work, 'user_data'), inputError(/is a directory, not a regular file/));
  await assert.rejects(readRegularFile(join(work, 'absent'), 'user_data'), inputError(/^user_data: cannot read .*absent \(ENOENT\)$/));
});

test('a file over the limit is refused naming the field, the file and the limit; at the limit it is read', async () => {
  const big = join(work, 'big');
  await writeFile(big, '');
  await truncate(big, INPUT_LIMIT + 1);
  await assert.rejects(readRegularFile(big, 'user_data'), inputError(/^user_data: .*\/big is larger than the limit of 16\.0 MiB$/));
  await truncate(big, INPUT_LIMIT);
  assert.equal((await readRegularFile(big, 'user_data')).length, INPUT_LIMIT);
});

test('the limit is counted as bytes arrive, not taken from st_size (which /proc files report as 0)', async () => {
  await assert.rejects(readRegularFile('/proc/self/maps', 'user_data', 16), inputError(/larger than the limit of 16 B/));
});

test('a URL body that never ends is cut at the limit: the client stops reading, memory stays bounded', { timeout: 30_000 }, async () => {
  const before = process.memoryUsage().rss;
  await assert.rejects(fetchBody(url('/endless'), 'user_data'), inputError(new RegExp(`^user_data: ${url('/endless')} sent more than the limit of 16\\.0 MiB$`)));
  await endlessClosed;
  // The server could only push what the client read, plus socket buffers: nothing like the 6.4 GB of the report.
  assert.ok(endlessSent < INPUT_LIMIT + 32 * 1024 * 1024, `the server sent ${endlessSent} bytes`);
  assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024, 'resident memory grew by less than 256 MiB');
});

test('a declared Content-Length over the limit is refused before the body is read', async () => {
  await assert.rejects(fetchBody(url('/declared-huge'), 'user_data'), inputError(/sent more than the limit of 16\.0 MiB/));
});

test('an answer held open is cut at the whole-fetch time limit, naming field and source', async () => {
  await assert.rejects(
    fetchBody(url('/held'), 'user_data', { timeoutMs: 300 }),
    inputError(new RegExp(`^user_data: ${url('/held')} did not send the whole answer within 0\\.3 s$`)),
  );
  assert.equal((await fetchBody(url('/ok'), 'user_data')).toString(), '#cloud-config\n');
});

const recipe = (extra: Record<string, unknown>) => ({
  task_target: 'install-linux.target',
  target_disk: '/dev/sda',
  oci_url: 'registry.example:8080/os/debian:12',
  partition_layout: [
    { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
    { size: '100%', format: 'ext4', mountpoint: '/' },
  ],
  ...extra,
});

test('shoal-install plan: a FIFO recipe, a FIFO or /dev/zero payload, an endless URL are bad input (exit 2) naming field, source and limit', async () => {
  const dir = join(work, 'cli');
  await mkdir(dir);
  const disk = join(dir, 'disk.img');
  await writeFile(disk, '');
  await truncate(disk, 4 * 1024 ** 3);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const cases: [string, unknown, RegExp][] = [
    ['fifo-recipe', undefined, /the recipe: .*\/fifo is a FIFO, not a regular file/],
    ['fifo-payload', recipe({ user_data: { path: fifo } }), /user_data: .*\/fifo is a FIFO, not a regular file/],
    ['zero-payload', recipe({ user_data: { path: '/dev/zero' } }), /user_data: \/dev\/zero is a character device, not a regular file/],
    ['endless-url', recipe({ user_data: { url: url('/endless') } }), /user_data: http:\/\/127\.0\.0\.1:\d+\/endless sent more than the limit of 16\.0 MiB/],
    ['password-fifo', recipe({ registry: { username: 'u', password: { path: fifo } } }), /registry\.password: .*\/fifo is a FIFO/],
  ];
  for (const [name, body, expected] of cases) {
    const path = body === undefined ? fifo : join(dir, `${name}.json`);
    if (body !== undefined) await writeFile(path, JSON.stringify(body));
    const r = await runCli(['plan', '--recipe', path, '--disk', disk], { timeoutMs: 60_000 });
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, expected, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
  }
});

test('auto mode: a shoal.recipe= URL that never ends is bad input (exit 2) naming the source and the limit', { timeout: 60_000 }, async () => {
  const dir = join(work, 'auto');
  await mkdir(dir);
  await writeFile(join(dir, 'cmdline'), `shoal.auto shoal.serial=LIMITS shoal.net_wait=0 shoal.recipe=${url('/endless')}\n`);
  const lines: string[] = [];
  const out = await runAuto({ cmdlineFile: join(dir, 'cmdline'), defaultsFile: join(dir, 'no-defaults'), logPath: join(dir, 'log.jsonl'), write: (l) => lines.push(l) });
  assert.equal(out.exitCode, 2, lines.join('\n'));
  assert.match(lines.join('\n'), /shoal\.recipe: http:\/\/127\.0\.0\.1:\d+\/endless sent more than the limit of 16\.0 MiB/);
});

test('a controller answer that never ends is read no further than its first 64 KiB', { timeout: 30_000 }, async () => {
  const outcome = await postStatus({ url: `http://${server.host}`, serial: 'ENDLESS' }, makeStatusReport({ status: 'success' }), { retryDelaysMs: [] });
  assert.ok(!outcome.delivered && /^HTTP 200 without \{"ok":true\}: A{100}/.test(outcome.reason), JSON.stringify(outcome).slice(0, 300));
  await endlessClosed;
  assert.ok(endlessSent < 32 * 1024 * 1024, `the controller sent ${endlessSent} bytes`);
});
