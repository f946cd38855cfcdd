/**
 * Waiting for the registry at boot, against real sockets on loopback: a registry that starts listening while auto
 * mode waits is used at once; one that never does ends the wait at its bound with the host named.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { NetworkUnreachable, registryEndpoints, waitForRegistry } from '../../ops/net-wait.ts';

/** A loopback port nothing listens on: bound, then closed (its number is ours to reuse). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer((c) => c.end());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

test("where the image comes from: the reference's registry (no port: 443, or 80 when plain HTTP), then its mirrors", () => {
  assert.deepEqual(registryEndpoints('controller:8080/os-images/debian:12', [], []), [{ host: 'controller', port: 8080 }]);
  assert.deepEqual(registryEndpoints('registry.example/os/debian:12', [], []), [{ host: 'registry.example', port: 443 }]);
  assert.deepEqual(registryEndpoints('registry.example/os/debian:12', [], ['registry.example']), [{ host: 'registry.example', port: 80 }]);
  assert.deepEqual(registryEndpoints('[fd00::1]:5000/os/debian:12', ['cache.rack7:5000', 'cache2'], ['cache2']), [
    { host: 'fd00::1', port: 5000 },
    { host: 'cache.rack7', port: 5000 },
    { host: 'cache2', port: 80 },
  ]);
  assert.deepEqual(registryEndpoints(undefined, ['cache:1'], []), []);
  assert.deepEqual(registryEndpoints('not a reference', [], []), [], "a bad reference is the image step's to report");
});

test('a registry that comes up during the wait: the wait says so on the console, then ends as soon as it answers', async () => {
  const port = await closedPort();
  const said: string[] = [];
  let server: Server | undefined;
  const t0 = Date.now();
  try {
    await waitForRegistry([{ host: '127.0.0.1', port }], 30, {
      pollMs: 50,
      say: (m) => {
        said.push(m);
        // Waiting now (it said so): bring the registry up.
        if (!server && m.startsWith('waiting for the network')) void listen(port).then((s) => (server = s));
      },
    });
  } finally {
    server?.close();
  }
  assert.ok(Date.now() - t0 < 10_000);
  assert.match(
    said[0]!,
    new RegExp(`^waiting for the network: registry 127\\.0\\.0\\.1:${port} not reachable yet \\(0 s; connection refused \\(nothing listens on that port\\)\\)$`),
  );
  assert.match(said.at(-1)!, new RegExp(`^the registry 127\\.0\\.0\\.1:${port} is reachable \\(after \\d+ s\\)$`));
});

test('reachable at once: nothing is said', async () => {
  const server = await listen(0);
  try {
    const said: string[] = [];
    await waitForRegistry([{ host: '127.0.0.1', port: (server.address() as { port: number }).port }], 5, { say: (m) => said.push(m) });
    assert.deepEqual(said, []);
  } finally {
    server.close();
  }
});

test('never reachable: fails at the bound, naming the registry and what to check', async () => {
  const port = await closedPort();
  const t0 = Date.now();
  await assert.rejects(waitForRegistry([{ host: '127.0.0.1', port }], 1, { pollMs: 100, say: () => undefined }), (e: unknown) => {
    assert.ok(e instanceof NetworkUnreachable);
    assert.equal(e.message, `the network is not up: the registry 127.0.0.1:${port} could not be reached within 1 s (connection refused (nothing listens on that port))`);
    assert.match(e.hint, /the cable and link of its NIC, that DHCP gives it an address .* shoal\.net_wait= sets how long to wait/);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 5000, `${took} ms`);
});

test('the last attempt, made at the bound itself, still gets time for an answer: its cause is the one named', async () => {
  const port = await closedPort();
  // A poll longer than the bound: the second attempt starts exactly at the deadline.
  await assert.rejects(waitForRegistry([{ host: '127.0.0.1', port }], 1, { pollMs: 5000, say: () => undefined }), /within 1 s \(connection refused/);
});

test('the origin is down but a mirror answers: the pull can go on, so the wait ends', async () => {
  const port = await closedPort();
  const mirror = await listen(0);
  try {
    const said: string[] = [];
    const t0 = Date.now();
    await waitForRegistry(
      [
        { host: '127.0.0.1', port },
        { host: '127.0.0.1', port: (mirror.address() as { port: number }).port },
      ],
      30,
      { pollMs: 50, say: (m) => said.push(m) },
    );
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(said, []);
  } finally {
    mirror.close();
  }
});

test('the wait stops when auto mode is stopped', async () => {
  const port = await closedPort();
  const ctl = new AbortController();
  const t0 = Date.now();
  await assert.rejects(waitForRegistry([{ host: '127.0.0.1', port }], 60, { pollMs: 5000, signal: ctl.signal, say: () => ctl.abort() }));
  assert.ok(Date.now() - t0 < 2000);
});
