import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseChallenges } from '../../ops/oci/auth.ts';
import { RegistryClient, RegistryError } from '../../ops/oci/client.ts';
import { serve, type TestServer } from '../helpers/http-server.ts';

test('parses the bearer challenge distribution sends, commas inside the quoted scope included', () => {
  const header = 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:os/ubuntu:pull,push"';
  assert.deepEqual(parseChallenges(header), [
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:os/ubuntu:pull,push' },
    },
  ]);
});

test('parses basic, several challenges, token values, escapes and odd spacing', () => {
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseChallenges('Basic realm="a", BEARER Realm = "https://t/x" , Service=reg, error="insufficient_scope"'), [
    { scheme: 'basic', params: { realm: 'a' } },
    { scheme: 'bearer', params: { realm: 'https://t/x', service: 'reg', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="a\\"b"', 'Negotiate']), [
    { scheme: 'basic', params: { realm: 'a"b' } },
    { scheme: 'negotiate', params: {} },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
});

const PASSWORD = 'hunter2-registry-secret';
const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

function unauthorized(err: unknown, pattern: RegExp): boolean {
  assert.ok(err instanceof RegistryError, String(err));
  assert.equal(err.code, 'unauthorized', err.message);
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes(PASSWORD), 'no password in the message');
  return true;
}

/** A registry that wants basic auth for user "shoal". */
async function basicRegistry(): Promise<TestServer> {
  const expected = `Basic ${Buffer.from(`shoal:${PASSWORD}`).toString('base64')}`;
  const server = await serve((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"os/a","tags":["1","2"]}');
  });
  servers.push(server);
  return server;
}

test('basic auth: no credentials -> unauthorized, saying how to supply them', async () => {
  const registry = await basicRegistry();
  const client = new RegistryClient({ plainHttp: ['127.0.0.1'] });
  await assert.rejects(client.listTags(`${registry.host}/os/a`), (e) => unauthorized(e, new RegExp(`${registry.host} requires authentication.*username and password`)));
});

test('basic auth: credentials are sent after the challenge, then up front', async () => {
  const registry = await basicRegistry();
  const lines: string[] = [];
  const client = new RegistryClient({ plainHttp: ['127.0.0.1'], username: 'shoal', password: PASSWORD, log: (l) => lines.push(l) });
  assert.deepEqual(await client.listTags(`${registry.host}/os/a`), ['1', '2']);
  assert.deepEqual(await client.listTags(`${registry.host}/os/a`), ['1', '2']);
  assert.deepEqual(
    registry.requests.map((r) => r.headers.authorization !== undefined),
    [false, true, true],
    'one 401, then the credentials go with every request',
  );
  assert.ok(lines.some((l) => l.includes('basic')));
  assert.ok(lines.every((l) => !l.includes(PASSWORD)));
});

test('basic auth: a wrong password is reported as rejected, naming the user', async () => {
  const registry = await basicRegistry();
  const client = new RegistryClient({ plainHttp: ['127.0.0.1'], username: 'shoal', password: 'wrong' });
  await assert.rejects(client.listTags(`${registry.host}/os/a`), (e) => unauthorized(e, /rejected the password of user "shoal"/));
});

test('bearer: the token is fetched from the realm with basic credentials, cached per scope, renewed on 401', async () => {
  let issued = 0;
  let revoked = false;
  const realm = await serve((req, res) => {
    const url = new URL(req.url!, 'http://x');
    assert.equal(req.headers.authorization, `Basic ${Buffer.from(`shoal:${PASSWORD}`).toString('base64')}`);
    assert.equal(url.searchParams.get('service'), 'test-registry');
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: `token-${issued}-${url.searchParams.get('scope')}`, expires_in: 300 }));
  });
  servers.push(realm);
  const registry = await serve((req, res) => {
    const scope = req.url!.startsWith('/v2/_catalog') ? 'registry:catalog:*' : 'repository:os/a:pull';
    const current = `Bearer token-${issued}-${scope}`;
    if (req.headers.authorization !== current || revoked) {
      revoked = false;
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${realm.host}/token",service="test-registry",scope="${scope}"`,
      });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(scope.startsWith('registry') ? '{"repositories":["os/a"]}' : '{"name":"os/a","tags":["1"]}');
  });
  servers.push(registry);
  const lines: string[] = [];
  const client = new RegistryClient({ plainHttp: ['127.0.0.1'], username: 'shoal', password: PASSWORD, log: (l) => lines.push(l) });
  await client.listTags(`${registry.host}/os/a`);
  await client.listTags(`${registry.host}/os/a`);
  assert.equal(issued, 1, 'the second request reuses the cached token');
  assert.deepEqual(await client.listRepositories(registry.host), ['os/a']);
  assert.equal(issued, 2, 'another scope, another token');
  revoked = true;
  await client.listRepositories(registry.host);
  assert.equal(issued, 3, 'a 401 with a cached token fetches a new one');
  assert.ok(
    lines.every((l) => !l.includes(PASSWORD) && !l.includes('token-')),
    'neither password nor token in the log',
  );
});

test('bearer: a token realm in plain HTTP on a non-loopback host is refused, credentials are not sent', async () => {
  const registry = await serve((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="x"' }).end();
  });
  servers.push(registry);
  const client = new RegistryClient({ plainHttp: ['127.0.0.1'], username: 'shoal', password: PASSWORD });
  await assert.rejects(client.listTags(`${registry.host}/os/a`), (e: unknown) => {
    assert.ok(e instanceof RegistryError && e.code === 'unsupported', String(e));
    assert.match(e.message, /auth\.example\.com.*plain HTTP.*plainHttp/);
    return true;
  });
});

test('an unknown scheme is unsupported; a username without a password is refused up front', async () => {
  const registry = await serve((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Negotiate' }).end();
  });
  servers.push(registry);
  await assert.rejects(new RegistryClient({ plainHttp: ['127.0.0.1'] }).listTags(`${registry.host}/os/a`), /Negotiate|negotiate.*Basic and Bearer/);
  assert.throws(
    () => new RegistryClient({ username: 'shoal' }),
    (e: unknown) => e instanceof RegistryError && e.code === 'unauthorized',
  );
});
