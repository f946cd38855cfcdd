// The webhook against a busy controller follows the registry's rules (ops/retry.ts): Retry-After on 429/503 is
// waited as asked, within the busy patience; network errors and other 5xx keep the contract's schedule.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import { makeStatusReport, postStatus } from '../../ops/report.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A controller answering the n-th POST with `answers[n]` (the last one repeats); notes when each came. */
async function controller(answers: ((res: ServerResponse) => void)[]) {
  const times: number[] = [];
  const server = await serve((req, res) => {
    times.push(Date.now());
    req.resume();
    req.on('end', () => answers[Math.min(times.length - 1, answers.length - 1)]!(res));
  });
  servers.push(server);
  return { url: `http://${server.host}`, server, gaps: () => times.slice(1).map((t, i) => t - times[i]!) };
}

const busy = (status: number, retryAfter: string) => (res: ServerResponse) => res.writeHead(status, { 'retry-after': retryAfter }).end('slow down');
const ok = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
const report = () => makeStatusReport({ status: 'success' });
// The contract's 30/60/120 s, shrunk: a busy answer must not be waited this short, nor use up these attempts.
const FAST = [5, 10, 20];

test('429 with Retry-After: 1, five times (more than the contract retries): waited as asked, then delivered', { timeout: 20_000 }, async () => {
  const c = await controller([busy(429, '1'), busy(429, '1'), busy(503, '1'), busy(429, '1'), busy(429, '1'), ok]);
  const logs: string[] = [];
  const out = await postStatus({ url: c.url, serial: 'SN1' }, report(), { retryDelaysMs: FAST, log: (m) => logs.push(m) });
  assert.deepEqual(out, { delivered: true, attempts: 6, idempotent: false });
  for (const gap of c.gaps()) assert.ok(gap >= 1000 && gap < 2500, `waited ${gap} ms for Retry-After: 1`);
  assert.equal(logs.filter((l) => /controller busy \(HTTP (429|503), Retry-After 1 s\), retrying in 1(\.\d)? s/.test(l)).length, 5, logs.join('\n'));
});

test('a controller that stays busy: given up when the busy patience is spent, reported as not delivered', { timeout: 20_000 }, async () => {
  const c = await controller([busy(429, '1')]);
  const logs: string[] = [];
  const out = await postStatus({ url: c.url, serial: 'SN1' }, report(), { retryDelaysMs: FAST, busyPatienceMs: 2500, log: (m) => logs.push(m) });
  assert.equal(out.delivered, false);
  assert.equal(out.delivered === false && out.permanent, false);
  assert.ok(c.server.requests.length >= 2 && c.server.requests.length <= 3, `${c.server.requests.length} requests`);
  assert.match(logs.join('\n'), /gave up after \d attempts \(still busy after [\d.]+ s of waiting \(the busy patience is 2\.5 s\)\)/);
});

test('a 503 without Retry-After keeps the contract schedule and its attempts', { timeout: 20_000 }, async () => {
  const c = await controller([(res) => res.writeHead(503).end()]);
  const out = await postStatus({ url: c.url, serial: 'SN1' }, report(), { retryDelaysMs: FAST });
  assert.deepEqual(out, { delivered: false, attempts: 4, permanent: false, reason: 'HTTP 503' });
});
