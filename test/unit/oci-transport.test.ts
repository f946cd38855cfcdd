import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RegistryClient, RegistryError } from '../../ops/oci/client.ts';
import { isLoopbackHost, schemePolicy } from '../../ops/oci/transport.ts';
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
    assert.throws(() => new RegistryClient({ plainHttp: [entry] }), (e: unknown) => e instanceof RegistryError && /plainHttp entry/.test(e.message), entry);
  }
});

test('a CA file that is missing or not PEM is a tls error naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci-ca-'));
  try {
    const notPem = join(dir, 'ca.txt');
    await writeFile(notPem, 'hello');
    for (const caFile of [join(dir, 'missing.crt'), notPem]) {
      assert.throws(() => new RegistryClient({ caFile }), (e: unknown) => e instanceof RegistryError && e.code === 'tls' && e.message.includes(caFile));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

test('a plain-HTTP registry on a non-loopback address is spoken to in HTTPS unless listed', async (t) => {
  const address = nonLoopbackAddress();
  if (!address) {
    process.stderr.write(`SKIPPED ${t.name}: needs a non-loopback IPv4 address on this machine\n`);
    t.skip('needs a non-loopback IPv4 address on this machine');
    return;
  }
  const server = await serve((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}');
  }, address);
  try {
    const refused = new RegistryClient({ retry: { attempts: 1 } });
    await assert.rejects(refused.listTags(`${server.host}/os/a`), (e: unknown) => {
      assert.ok(e instanceof RegistryError, String(e));
      assert.equal(e.code, 'tls');
      assert.match(e.message, new RegExp(`answered in plain HTTP.*list "${server.host}" in plainHttp`));
      return true;
    });
    assert.equal(server.requests.length, 0, 'no HTTP request reached the server in clear');

    const listed = new RegistryClient({ plainHttp: [server.host] });
    await assert.rejects(listed.listTags(`${server.host}/os/a`), (e: unknown) => e instanceof RegistryError && e.code === 'not-found');
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});
