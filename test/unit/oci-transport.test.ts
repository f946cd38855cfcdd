import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RegistryClient, RegistryError } from '../../ops/oci/client.ts';
import { request } from 'undici';
import { isLoopbackHost, readSmallBody, schemePolicy } from '../../ops/oci/transport.ts';
import { serve } from '../helpers/http-server.ts';

test('loopback hosts: 127.0.0.0/8, ::1, localhost', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['10.0.2.2', '192.0.2.2', '::2', 'controller.internal', '128.0.0.1']) assert.equal(isLoopbackHost(host), false, host);
});

test('plain HTTP only for listed or loopback registries; HTTPS for everything else', () => {
  assert.equal(schemePolicy('controller.internal:8080', []), 'https');
  assert.equal(schemePolicy('10.0.2.2:8080', ['10.0.2.3']), 'https');
  assert.equal(schemePolicy('controller.internal:8080', ['controller.internal']), 'http', 'HOST allows any port');
  assert.equal(schemePolicy('controller.internal:8080', ['Controller.Internal:8080']), 'http', 'HOST:PORT, any case');
  assert.equal(schemePolicy('controller.internal:8443', ['controller.internal:8080']), 'https', 'HOST:PORT is that port only');
  assert.equal(schemePolicy('controller.internal', ['controller.internal:8080']), 'https');
  assert.equal(schemePolicy('[fd00::5]:5000', ['fd00::5']), 'http');
  assert.equal(schemePolicy('[fd00::5]:5000', ['[fd00::5]:5000']), 'http');
  // Loopback: HTTPS first, cleartext only if the server answers in cleartext.
  assert.equal(schemePolicy('127.0.0.1:5000', []), 'https-then-http');
  assert.equal(schemePolicy('[::1]:5000', []), 'https-then-http');
  assert.equal(schemePolicy('localhost:5000', []), 'https-then-http');
});

test('a plainHttp entry with a scheme or path is refused', () => {
  for (const entry of ['http://controller:8080', 'controller:8080/v2', '']) {
    assert.throws(
      () => new RegistryClient({ plainHttp: [entry] }),
      (e: unknown) => e instanceof RegistryError && /plainHttp entry/.test(e.message),
      entry,
    );
  }
});

test('a CA file that is missing or not PEM is a tls error naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci-ca-'));
  try {
    const notPem = join(dir, 'ca.txt');
    await writeFile(notPem, 'hello');
    for (const caFile of [join(dir, 'missing.crt'), notPem]) {
      assert.throws(
        () => new RegistryClient({ caFile }),
        (e: unknown) => e instanceof RegistryError && e.code === 'tls' && e.message.includes(caFile),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a JSON answer trickled a byte at a time is cut off at its deadline with a retryable error, not read forever', { timeout: 10_000 }, async () => {
  const server = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 4096 });
    const timer = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(timer));
  });
  try {
    const response = await request(`http://${server.host}/v2/os/a/manifests/1`);
    const started = Date.now();
    await assert.rejects(readSmallBody(response, 4096, 'manifest of os/a:1', 500), (e: unknown) => {
      assert.ok(e instanceof RegistryError, String(e));
      assert.equal(e.code, 'network');
      assert.match(e.message, /manifest of os\/a:1 was not received within 0\.5 s; the registry is trickling it/);
      return true;
    });
    assert.ok(Date.now() - started < 2000);
  } finally {
    await server.close();
  }
});
