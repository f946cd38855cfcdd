import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from '../../ops/oci/errors.ts';
import { formatReference, parseReference, parseRegistry, parseRepository } from '../../ops/oci/reference.ts';

const DIGEST = `sha256:${'a1'.repeat(32)}`;

test('parses host:port/nested/repo:tag as the Shoal contract writes it', () => {
  assert.deepEqual(parseReference('controller.internal:8080/os-images/ubuntu-rootfs:22.04'), {
    registry: 'controller.internal:8080',
    repository: 'os-images/ubuntu-rootfs',
    tag: '22.04',
  });
});

test('the tag defaults to latest, but not when a digest pins the image', () => {
  assert.equal(parseReference('registry.example.com/a/b/c').tag, 'latest');
  const pinned = parseReference(`127.0.0.1:5000/os/debian@${DIGEST}`);
  assert.equal(pinned.tag, undefined);
  assert.equal(pinned.digest, DIGEST);
  const both = parseReference(`127.0.0.1:5000/os/debian:12@${DIGEST}`);
  assert.deepEqual([both.tag, both.digest], ['12', DIGEST]);
});

test('hosts: localhost, IPv4 with port, bracketed IPv6, separators in repository names', () => {
  assert.equal(parseReference('localhost/os:1').registry, 'localhost');
  assert.equal(parseReference('[::1]:5000/os:1').registry, '[::1]:5000');
  assert.equal(parseReference('10.0.2.2:8080/os__x/a.b_c-d---e:v1.0_rc-1').repository, 'os__x/a.b_c-d---e');
});

function rejects(input: string, pattern: RegExp) {
  assert.throws(
    () => parseReference(input),
    (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'bad-reference');
      assert.ok(err.message.includes(`"${input}"`), `the message names the input: ${err.message}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('a reference without a registry host is refused, saying what is missing', () => {
  rejects('ubuntu:22.04', /no registry host/);
  rejects('library/ubuntu', /no registry host/);
  rejects('controller/os/ubuntu', /no registry host/);
});

test('bad repository names, tags, digests, ports and schemes are refused with the rule broken', () => {
  rejects('registry.local:5000/OS-Images/ubuntu:1', /lowercase/);
  rejects('registry.local:5000/os//ubuntu', /lowercase/);
  rejects('registry.local:5000/', /repository/);
  rejects('registry.local:5000/os/ubuntu:.hidden', /tag/);
  rejects(`registry.local:5000/os/ubuntu:${'x'.repeat(129)}`, /tag/);
  rejects('registry.local:5000/os/ubuntu@sha256:abc', /64 lowercase hex/);
  rejects(`registry.local:5000/os/ubuntu@sha256:${'A1'.repeat(32)}`, /64 lowercase hex/);
  rejects(`registry.local:5000/os/ubuntu@sha512:${'a1'.repeat(64)}`, /only sha256/);
  rejects('registry.local:99999/os/ubuntu', /port/);
  rejects('http://registry.local:5000/os/ubuntu', /scheme.*plainHttp/);
  rejects('registry.local:5000/os/ubu ntu', /repository/);
});

test('parseRepository takes host/repo without tag; parseRegistry a bare host', () => {
  assert.deepEqual(parseRepository('127.0.0.1:5000/os/debian'), { registry: '127.0.0.1:5000', repository: 'os/debian' });
  assert.throws(() => parseRepository('127.0.0.1:5000/os/debian:12'), /no tag or digest/);
  assert.equal(parseRegistry('controller.internal:8080'), 'controller.internal:8080');
  assert.throws(
    () => parseRegistry('controller.internal:8080/x'),
    (e: unknown) => e instanceof RegistryError && e.code === 'bad-reference',
  );
});

test('formatReference writes back what parseReference read', () => {
  for (const input of ['controller.internal:8080/os-images/ubuntu-rootfs:22.04', `127.0.0.1:5000/os/debian:12@${DIGEST}`, `localhost/a@${DIGEST}`]) {
    assert.equal(formatReference(parseReference(input)), input);
  }
});
