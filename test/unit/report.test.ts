import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { DISPATCHER_STEP, makeStatusReport, postStatus, reportedBlobs, shownUrl, statusUrl, type StatusReport } from '../../ops/report.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  text: string;
  body: StatusReport;
}

/** A controller on loopback whose answer to the n-th request (0-based) the test decides. */
async function controller(answer: (n: number, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, text, body: JSON.parse(text) as StatusReport });
      answer(seen.length - 1, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const SECRET = 'webhook-s3cret-0123456789';
const FAST = [5, 10, 20];

function report(over: Partial<Parameters<typeof makeStatusReport>[0]> = {}): StatusReport {
  return makeStatusReport({
    status: 'failed',
    failed_step: 'image-linux.service',
    task_target: 'install-linux.target',
    started_at: '2026-11-26T08:00:00.000Z',
    finished_at: '2026-11-26T08:05:00.000Z',
    schema_id: '1',
    ...over,
  });
}

test('the URL is {base}/api/v1/status-webhook/{serial}; logs show it without credentials or query', () => {
  assert.equal(statusUrl('http://c:8080', 'SN1'), 'http://c:8080/api/v1/status-webhook/SN1');
  assert.equal(statusUrl('https://c/shoal/', 'a b/c'), 'https://c/shoal/api/v1/status-webhook/a%20b%2Fc');
  assert.equal(shownUrl('https://user:pw@c:8443/x/y?token=t'), 'https://c:8443/x/y');
});

test('the body carries exactly the contract fields; a failure needs failed_step; success carries none', () => {
  const r = report();
  assert.deepEqual(Object.keys(r).sort(), ['delivery_id', 'dispatcher_version', 'failed_step', 'finished_at', 'schema_id', 'started_at', 'status', 'task_target']);
  assert.match(r.delivery_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(r.dispatcher_version, pkg.version);
  const ok = makeStatusReport({ status: 'success', failed_step: 'ignored.service' });
  assert.equal(ok.failed_step, undefined);
  assert.deepEqual(Object.keys(ok).sort(), ['delivery_id', 'dispatcher_version', 'status'], 'absent optional fields are left out, not null');
  assert.throws(() => makeStatusReport({ status: 'failed' }), /needs failed_step/);
  assert.notEqual(report().delivery_id, report().delivery_id, 'a new outcome has a new delivery id');
});

test('our image_digest extension: the manifest installed, only when an image was resolved', () => {
  const digest = `sha256:${'e'.repeat(64)}`;
  assert.equal(makeStatusReport({ status: 'success', image_digest: digest }).image_digest, digest);
  assert.ok(!('image_digest' in makeStatusReport({ status: 'success' })));
});

test('our blobs extension: each blob with the source that served it and the fallbacks, no secret in a reason', () => {
  const digest = `sha256:${'b'.repeat(64)}`;
  const blobs = reportedBlobs(
    [
      {
        digest,
        size: 30,
        sources: [
          { host: 'cache:5000', mirror: true, bytes: 10 },
          { host: 'controller:8080', mirror: false, bytes: 20 },
        ],
        fallbacks: [{ from: 'cache:5000', to: 'controller:8080', atByte: 10, reason: 'HTTP 500: token s3cr3t-pass expired' }],
      },
    ],
    ['s3cr3t-pass'],
  );
  assert.deepEqual(makeStatusReport({ status: 'success', blobs }).blobs, [
    {
      digest,
      size: 30,
      sources: [
        { source: 'mirror', host: 'cache:5000', bytes: 10 },
        { source: 'origin', host: 'controller:8080', bytes: 20 },
      ],
      fallbacks: [{ from: 'cache:5000', to: 'controller:8080', at_byte: 10, reason: 'HTTP 500: token *** expired' }],
    },
  ]);
  assert.ok(!('blobs' in makeStatusReport({ status: 'success' })), 'absent when no image was pulled');
});

test('503 twice, then 200 {"ok":true}: delivered on the third attempt with the same delivery_id, secret in the header only', async () => {
  const c = await controller((n, res) => (n < 2 ? json(res, 503, { ok: false }) : json(res, 200, { ok: true })));
  const logs: string[] = [];
  try {
    const body = report({ failed_step: DISPATCHER_STEP });
    const out = await postStatus({ url: c.url, serial: 'SN 42', secret: SECRET }, body, { retryDelaysMs: FAST, log: (m) => logs.push(m) });
    assert.deepEqual(out, { delivered: true, attempts: 3, idempotent: false });
    assert.equal(c.seen.length, 3);
    for (const s of c.seen) {
      assert.equal(s.method, 'POST');
      assert.equal(s.url, '/api/v1/status-webhook/SN%2042');
      assert.equal(s.headers['x-webhook-secret'], SECRET);
      assert.match(String(s.headers['content-type']), /^application\/json/);
      assert.deepEqual(s.body, body);
      assert.ok(!s.text.includes(SECRET), 'the secret is never in the body');
    }
    assert.equal(new Set(c.seen.map((s) => s.body.delivery_id)).size, 1, 'one delivery id across retries');
    assert.equal(c.seen[0]!.body.failed_step, 'provision-dispatcher.service');
    assert.match(logs.join('\n'), /HTTP 503.*retrying in 5 ms \(attempt 2 of 4\)/);
    assert.ok(!logs.join('\n').includes(SECRET));
  } finally {
    await c.close();
  }
});

test('{"ok":true,"idempotent":true} is success', async () => {
  const c = await controller((_, res) => json(res, 200, { ok: true, idempotent: true }));
  try {
    assert.deepEqual(await postStatus({ url: c.url, serial: 's', secret: SECRET }, report(), { retryDelaysMs: FAST }), {
      delivered: true,
      attempts: 1,
      idempotent: true,
    });
  } finally {
    await c.close();
  }
});

test('4xx is permanent: one attempt, the reason says what to check', async () => {
  for (const [status, hint] of [
    [401, /check the webhook secret/],
    [404, /check shoal\.webhook= and the serial/],
    [422, /HTTP 422/],
  ] as const) {
    const c = await controller((_, res) => json(res, status, { ok: false, error: 'nope' }));
    try {
      const out = await postStatus({ url: c.url, serial: 's', secret: SECRET }, report(), { retryDelaysMs: FAST });
      assert.equal(out.delivered, false);
      assert.equal(out.attempts, 1);
      assert.ok(!out.delivered && out.permanent);
      assert.match(!out.delivered ? out.reason : '', hint);
      assert.equal(c.seen.length, 1);
    } finally {
      await c.close();
    }
  }
});

test('5xx every time: 1 + 3 retries, then it gives up (not permanent)', async () => {
  const c = await controller((_, res) => json(res, 502, { ok: false }));
  try {
    const out = await postStatus({ url: c.url, serial: 's', secret: SECRET }, report(), { retryDelaysMs: FAST });
    assert.deepEqual(out, { delivered: false, attempts: 4, permanent: false, reason: 'HTTP 502 {"ok":false}' });
    assert.equal(c.seen.length, 4);
  } finally {
    await c.close();
  }
});

test('a controller that does not answer within the timeout is retried like a network error', async () => {
  const c = await controller((n, res) => (n === 0 ? setTimeout(() => json(res, 200, { ok: true }), 1500) : json(res, 200, { ok: true })));
  const logs: string[] = [];
  try {
    const t0 = Date.now();
    const out = await postStatus({ url: c.url, serial: 's', secret: SECRET }, report(), { retryDelaysMs: FAST, timeoutMs: 200, log: (m) => logs.push(m) });
    assert.deepEqual(out, { delivered: true, attempts: 2, idempotent: false });
    assert.ok(Date.now() - t0 < 1400, 'the first request was abandoned at the timeout');
    assert.match(logs.join('\n'), /network error: no answer within 0\.2 s; retrying/);
  } finally {
    await c.close();
  }
});

test('nobody listening: network errors are retried, then reported as undelivered', async () => {
  const c = await controller((_, res) => json(res, 200, { ok: true }));
  const url = c.url;
  await c.close();
  const out = await postStatus({ url, serial: 's', secret: SECRET }, report(), { retryDelaysMs: [1, 1] });
  assert.equal(out.delivered, false);
  assert.equal(out.attempts, 3);
  assert.match(!out.delivered ? out.reason : '', /network error: ECONNREFUSED/);
});

test('200 without {"ok":true} is not taken as delivered', async () => {
  const c = await controller((n, res) => (n === 0 ? json(res, 200, { ok: false }) : json(res, 200, { ok: true })));
  try {
    const out = await postStatus({ url: c.url, serial: 's', secret: SECRET }, report(), { retryDelaysMs: FAST });
    assert.deepEqual(out, { delivered: true, attempts: 2, idempotent: false });
  } finally {
    await c.close();
  }
});
