// issue 14: a busy registry is not a dead one. The registry here is the tests' own, so it can answer 429/503
// with Retry-After on cue; the waits are measured at the server, between the requests it saw.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { RegistryClient, RegistryError, type BlobLocation } from '../../ops/oci/client.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const BLOB = randomBytes(256 * 1024);
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;
// Fewer failure attempts than the busy answers each test sends: only a separate busy budget gets through.
const RETRY = { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Runs `handlers[n]` for the n-th request (the last one repeats) and notes when each request came. */
async function registry(handlers: Handler[]) {
  const times: number[] = [];
  const server = await serve((req, res) => {
    times.push(Date.now());
    handlers[Math.min(times.length - 1, handlers.length - 1)]!(req, res);
  });
  servers.push(server);
  const location: BlobLocation = { reference: { registry: server.host, repository: 'os/a' }, layer: { digest: DIGEST, size: BLOB.length } };
  const gaps = () => times.slice(1).map((t, i) => t - times[i]!);
  return { server, location, gaps };
}

const busy =
  (status: number, retryAfter?: string): Handler =>
  (_req, res) =>
    res.writeHead(status, retryAfter === undefined ? {} : { 'retry-after': retryAfter }).end();
const serveBlob: Handler = (_req, res) => res.writeHead(200, { 'content-length': BLOB.length }).end(BLOB);

async function pull(client: RegistryClient, location: BlobLocation): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(client.openBlob(location), new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) }));
  return Buffer.concat(chunks);
}

function client(lines: string[], retry: object = RETRY) {
  return new RegistryClient({ plainHttp: ['127.0.0.1'], retry, log: (l) => lines.push(l) });
}

test('429 with Retry-After: 1, three times: each wait is at least the second asked, and the pull completes', { timeout: 20_000 }, async () => {
  const { location, gaps } = await registry([busy(429, '1'), busy(429, '1'), busy(429, '1'), serveBlob]);
  const lines: string[] = [];
  assert.ok((await pull(client(lines), location)).equals(BLOB));
  assert.equal(gaps().length, 3);
  for (const gap of gaps()) assert.ok(gap >= 1000 && gap < 2500, `waited ${gap} ms for Retry-After: 1`);
  const said = lines.filter((l) => /registry busy \(HTTP 429, Retry-After 1 s\), resuming at byte 0 of \d+ in 1(\.\d)? s/.test(l));
  assert.equal(said.length, 3, lines.join('\n'));
});

test('503 with an HTTP-date Retry-After is busy too; listing tags waits as asked', { timeout: 20_000 }, async () => {
  const { gaps, server } = await registry([
    (_req, res) => res.writeHead(503, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end(),
    (_req, res) => res.writeHead(503, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end(),
    (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'os/a', tags: ['12'] })),
  ]);
  const lines: string[] = [];
  assert.deepEqual(await client(lines).listTags(`${server.host}/os/a`), ['12']);
  // An HTTP date has whole seconds: "2 s from now" is 1 to 2 s away when it is read.
  for (const gap of gaps()) assert.ok(gap >= 900, `waited ${gap} ms for a date about 2 s ahead`);
  assert.equal(lines.filter((l) => l.includes('registry busy (HTTP 503, Retry-After')).length, 2, lines.join('\n'));
});

test('a registry that stays busy: the pull fails once the busy patience is spent, saying so', { timeout: 20_000 }, async () => {
  const { location, server } = await registry([busy(429, '1')]);
  const started = Date.now();
  await assert.rejects(pull(client([], { ...RETRY, busyPatienceMs: 2500 }), location), (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, 'network');
    assert.match(e.message, /still busy after [\d.]+ s of waiting \(the busy patience is 2\.5 s\)/);
    return true;
  });
  assert.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
  assert.ok(server.requests.length >= 2 && server.requests.length <= 3, `${server.requests.length} requests`);
});

test('a 503 without Retry-After is a failure: it uses up the attempts, with backoff, not the busy patience', { timeout: 20_000 }, async () => {
  const { location, server } = await registry([busy(503)]);
  await assert.rejects(pull(client([]), location), (e: unknown) => e instanceof RegistryError && /gave up after 2 attempts without progress/.test(e.message));
  assert.equal(server.requests.length, RETRY.attempts);
});
