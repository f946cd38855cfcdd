// The blob reader against a registry that misbehaves on purpose (a real one
// cannot be made to ignore Range or to cut a body at a chosen byte); the
// integration test covers a real registry killed and restarted mid-pull.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { RegistryClient, RegistryError, type BlobLocation } from '../../ops/oci/client.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

const BLOB = randomBytes(1024 * 1024);
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;
const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

/** A registry whose blob endpoint runs `handlers[n]` for the n-th request (the last one repeats). */
async function blobServer(handlers: Handler[]): Promise<{ server: TestServer; location: BlobLocation }> {
  let count = 0;
  const server = await serve((req, res) => {
    const handler = handlers[Math.min(count, handlers.length - 1)]!;
    handler(req, res, count++);
  });
  servers.push(server);
  return { server, location: { reference: { registry: server.host, repository: 'os/a' }, layer: { digest: DIGEST, size: BLOB.length } } };
}

function requestedStart(req: IncomingMessage): number {
  return Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
}

/** Honours Range like a registry does. */
const serveRange: Handler = (req, res) => {
  const start = requestedStart(req);
  if (req.headers.range) {
    res.writeHead(206, { 'content-length': BLOB.length - start, 'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}` });
  } else {
    res.writeHead(200, { 'content-length': BLOB.length });
  }
  res.end(BLOB.subarray(start));
};

/** Sends `fraction` of what was asked, then kills the connection. */
function dropAfter(fraction: number): Handler {
  return (req, res) => {
    const start = requestedStart(req);
    const end = start + Math.floor((BLOB.length - start) * fraction);
    res.writeHead(req.headers.range ? 206 : 200, {
      'content-length': BLOB.length - start,
      ...(req.headers.range ? { 'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}` } : {}),
    });
    res.write(BLOB.subarray(start, end), () => setTimeout(() => res.socket?.destroy(), 10));
  };
}

async function pull(client: RegistryClient, location: BlobLocation, opts: { signal?: AbortSignal } = {}) {
  const chunks: Buffer[] = [];
  const progress: number[] = [];
  const stream = client.openBlob(location, { ...opts, onProgress: (done, total) => (assert.equal(total, BLOB.length), progress.push(done)) });
  let ended = false;
  stream.on('end', () => (ended = true));
  await pipeline(stream, new Writable({ write: (chunk, _enc, cb) => (chunks.push(chunk), cb()) }));
  return { bytes: Buffer.concat(chunks), progress, ended };
}

function client(lines: string[] = []) {
  return new RegistryClient({ plainHttp: ['127.0.0.1'], retry: FAST_RETRY, log: (l) => lines.push(l) });
}

test('a body cut halfway is resumed with Range from the byte it stopped at', async () => {
  const { server, location } = await blobServer([dropAfter(0.4), serveRange]);
  const lines: string[] = [];
  const { bytes, progress } = await pull(client(lines), location);
  assert.ok(bytes.equals(BLOB));
  const resumedAt = requestedStart(server.requests[1] as unknown as IncomingMessage);
  assert.ok(resumedAt > 0 && resumedAt <= BLOB.length * 0.4, `resumed at ${resumedAt}`);
  assert.equal(progress.at(-1), BLOB.length);
  assert.ok(
    progress.every((p, i) => i === 0 || p > progress[i - 1]!),
    'progress only grows',
  );
  assert.ok(
    lines.some((l) => l.includes(`resuming at byte ${resumedAt}`)),
    lines.join('\n'),
  );
});

test('a server that answers a Range request with the whole blob: the bytes already delivered are skipped', async () => {
  const { location } = await blobServer([dropAfter(0.5), (_req, res) => res.writeHead(200, { 'content-length': BLOB.length }).end(BLOB)]);
  const lines: string[] = [];
  const { bytes } = await pull(client(lines), location);
  assert.ok(bytes.equals(BLOB), 'no byte twice, none missing, digest verified');
  assert.ok(
    lines.some((l) => l.includes('ignored the Range request')),
    lines.join('\n'),
  );
});

test('a connection that keeps dropping but makes progress is followed to the end', async () => {
  // Four drops in a row against a budget of two attempts: each one made progress, so none exhausts it.
  const { server, location } = await blobServer([dropAfter(0.3), dropAfter(0.3), dropAfter(0.3), dropAfter(0.3), serveRange]);
  const c = new RegistryClient({ plainHttp: ['127.0.0.1'], retry: { ...FAST_RETRY, attempts: 2 } });
  assert.ok((await pull(c, location)).bytes.equals(BLOB));
  assert.equal(server.requests.length, 5);
});

test('a registry that drops every connection before sending anything: network error after the attempts', async () => {
  const { server, location } = await blobServer([(_req, res) => res.socket?.destroy()]);
  await assert.rejects(pull(client(), location), (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, 'network');
    assert.match(e.message, /gave up after 3 attempts without progress at 0 of/);
    return true;
  });
  assert.equal(server.requests.length, 3);
});

test('damaged bytes: the stream errors with digest-mismatch and never ends cleanly', async () => {
  const damaged = Buffer.from(BLOB);
  damaged[damaged.length >> 1]! ^= 0xff;
  const { location } = await blobServer([(_req, res) => res.writeHead(200, { 'content-length': damaged.length }).end(damaged)]);
  const stream = client().openBlob(location);
  let ended = false;
  stream.on('end', () => (ended = true));
  await assert.rejects(pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })), (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, 'digest-mismatch');
    assert.match(e.message, new RegExp(`${DIGEST}.*damaged`));
    return true;
  });
  assert.equal(ended, false);
});

test('a size that differs from the manifest is refused before any byte is delivered', async () => {
  const { location } = await blobServer([(_req, res) => res.writeHead(200, { 'content-length': BLOB.length + 1 }).end(Buffer.concat([BLOB, Buffer.from('x')]))]);
  await assert.rejects(pull(client(), location), (e: unknown) => e instanceof RegistryError && e.code === 'digest-mismatch' && /manifest says/.test(e.message));
});

test('5xx is retried, 404 is not-found at once', async () => {
  const { location } = await blobServer([(_req, res) => res.writeHead(503).end(), serveRange]);
  assert.ok((await pull(client(), location)).bytes.equals(BLOB));
  const { server, location: missing } = await blobServer([
    (_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}'),
  ]);
  await assert.rejects(pull(client(), missing), (e: unknown) => e instanceof RegistryError && e.code === 'not-found' && /BLOB_UNKNOWN.*re-push/.test(e.message));
  assert.equal(server.requests.length, 1);
});

test('a resume answered with the wrong Content-Range is refused', async () => {
  const { location } = await blobServer([dropAfter(0.5), (_req, res) => res.writeHead(206, { 'content-range': `bytes 0-${BLOB.length - 1}/${BLOB.length}` }).end(BLOB)]);
  await assert.rejects(pull(client(), location), (e: unknown) => e instanceof RegistryError && e.code === 'unsupported' && /Content-Range/.test(e.message));
});

test('aborting mid-pull errors the stream with the abort reason and closes the connection', async () => {
  let closed = false;
  const { location } = await blobServer([
    (_req, res) => {
      res.writeHead(200, { 'content-length': BLOB.length });
      res.write(BLOB.subarray(0, 64 * 1024));
      res.on('close', () => (closed = true)); // the rest never comes
    },
  ]);
  const controller = new AbortController();
  const reason = new Error('technician pressed cancel');
  const stream = client().openBlob(location, { signal: controller.signal, onProgress: () => controller.abort(reason) });
  await assert.rejects(pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })), (e: unknown) => e === reason);
  for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(closed, true, 'the server saw the connection go');
});

test('readBlobRange: a 206 slice, and a server ignoring Range read only as far as needed', async () => {
  const { location } = await blobServer([
    (req, res) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range!)!;
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${BLOB.length}` }).end(BLOB.subarray(Number(a), Number(b) + 1));
    },
  ]);
  const c = client();
  assert.ok((await c.readBlobRange(location, 1000, 1999)).equals(BLOB.subarray(1000, 2000)));
  assert.ok((await c.readBlobRange(location, BLOB.length - 1, BLOB.length - 1)).equals(BLOB.subarray(-1)));

  // A server ignoring Range that trickles a 64 MiB blob out: the reader must hang up once it has its slice.
  const size = 64 * 1024 * 1024;
  const piece = randomBytes(64 * 1024);
  let sent = -1;
  const ignoring = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': size });
    let offset = 0;
    const next = () => {
      if (res.destroyed) return;
      offset += piece.length;
      if (offset >= size) return void res.end(piece);
      res.write(piece);
      setTimeout(next, 5);
    };
    res.on('close', () => (sent = offset));
    next();
  });
  servers.push(ignoring);
  const bigLocation = { reference: { registry: ignoring.host, repository: 'os/a' }, layer: { digest: DIGEST, size } };
  assert.ok((await c.readBlobRange(bigLocation, 70_000, 70_099)).equals(piece.subarray(70_000 - 65_536, 70_100 - 65_536)));
  for (let i = 0; i < 100 && sent < 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(sent > 0 && sent < 1024 * 1024, `the reader hung up after ${sent} of ${size} bytes`);

  await assert.rejects(c.readBlobRange(location, 10, 5), RangeError);
  await assert.rejects(c.readBlobRange(location, 0, BLOB.length), RangeError);
});

// issue 8 item 7: a registry must not keep an unattended install going forever.

/** Sends the headers and one byte of what was asked, then resets the connection. */
const resetAfterOneByte: Handler = (req, res) => {
  const start = requestedStart(req);
  res.writeHead(req.headers.range ? 206 : 200, {
    'content-length': BLOB.length - start,
    ...(req.headers.range ? { 'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}` } : {}),
  });
  res.write(BLOB.subarray(start, start + 1), () => res.socket?.resetAndDestroy());
};

/** Sends one byte of what was asked every `everyMs`, forever, on a connection that never goes quiet long enough for a socket timeout. */
function trickle(everyMs: number): Handler {
  return (req, res) => {
    let at = requestedStart(req);
    res.writeHead(req.headers.range ? 206 : 200, {
      'content-length': BLOB.length - at,
      ...(req.headers.range ? { 'content-range': `bytes ${at}-${BLOB.length - 1}/${BLOB.length}` } : {}),
    });
    const send = () => void res.write(BLOB.subarray(at, ++at));
    send();
    const timer = setInterval(send, everyMs);
    res.on('close', () => clearInterval(timer));
  };
}

test('a registry that resets every connection after one byte fails in bounded time: one byte is not progress', { timeout: 15_000 }, async () => {
  const { server, location } = await blobServer([resetAfterOneByte]);
  const lines: string[] = [];
  await assert.rejects(pull(client(lines), location), (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, 'network');
    assert.match(e.message, /gave up after 3 attempts without progress at 3 of 1048576 bytes/);
    return true;
  });
  assert.equal(server.requests.length, FAST_RETRY.attempts);
  assert.equal(lines.filter((l) => /resuming at byte \d+ of/.test(l)).length, FAST_RETRY.attempts - 1, lines.join('\n'));
});

test('a registry that trickles a byte every 2 s is stalled: reconnect, then fail when the attempts are gone', { timeout: 20_000 }, async () => {
  const { server, location } = await blobServer([trickle(2000)]);
  const lines: string[] = [];
  const c = new RegistryClient({
    plainHttp: ['127.0.0.1'],
    retry: FAST_RETRY,
    lowSpeed: { bytesPerSecond: 1024, seconds: 1 },
    log: (l) => lines.push(l),
  });
  const started = Date.now();
  await assert.rejects(pull(c, location), (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, 'network');
    assert.match(e.message, /gave up after 3 attempts without progress at 3 of \d+ bytes: .*transfer below 1 KiB\/s for 1 s/);
    return true;
  });
  assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
  assert.equal(server.requests.length, FAST_RETRY.attempts);
  const stalls = lines.filter((l) => l.includes('transfer below 1 KiB/s for 1 s: reconnecting, resuming at byte'));
  assert.equal(stalls.length, FAST_RETRY.attempts - 1, lines.join('\n'));
});

test('a stalled transfer reconnects with Range and completes when the registry serves again', { timeout: 15_000 }, async () => {
  const { server, location } = await blobServer([trickle(2000), serveRange]);
  const lines: string[] = [];
  const c = new RegistryClient({ plainHttp: ['127.0.0.1'], retry: FAST_RETRY, lowSpeed: { bytesPerSecond: 1024, seconds: 1 }, log: (l) => lines.push(l) });
  assert.ok((await pull(c, location)).bytes.equals(BLOB));
  assert.equal(server.requests[1]?.headers.range, 'bytes=1-');
  assert.ok(
    lines.some((l) => l.includes('reconnecting')),
    lines.join('\n'),
  );
});

test('a slow consumer is backpressure, not a stall', { timeout: 15_000 }, async () => {
  const { server, location } = await blobServer([serveRange]);
  const lines: string[] = [];
  const c = new RegistryClient({ plainHttp: ['127.0.0.1'], retry: FAST_RETRY, lowSpeed: { bytesPerSecond: 10 * 1024 * 1024, seconds: 0.2 }, log: (l) => lines.push(l) });
  const chunks: Buffer[] = [];
  let paused = false;
  await pipeline(
    c.openBlob(location),
    new Writable({
      highWaterMark: 1,
      write: (chunk, _enc, cb) => {
        chunks.push(chunk);
        if (paused) return cb();
        paused = true;
        setTimeout(cb, 1000); // a disk that takes a second for its first write
      },
    }),
  );
  assert.ok(Buffer.concat(chunks).equals(BLOB));
  assert.equal(server.requests.length, 1, lines.join('\n'));
});
