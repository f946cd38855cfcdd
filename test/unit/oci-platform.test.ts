import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from '../../ops/oci/errors.ts';
import { machinePlatform, pickPlatform, type PlatformEntry } from '../../ops/oci/platform.ts';

const entry = (digest: string, os?: string, architecture?: string, variant?: string, annotations?: Record<string, string>): PlatformEntry => ({
  digest,
  ...(os && architecture ? { platform: { os, architecture, ...(variant ? { variant } : {}) } } : {}),
  ...(annotations ? { annotations } : {}),
});

const AMD64 = machinePlatform('x64');
const ARM64 = machinePlatform('arm64');

test('the machine platform: x64 is linux/amd64, arm64 is linux/arm64/v8; others refused', () => {
  assert.deepEqual(AMD64, { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(ARM64, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.throws(() => machinePlatform('ppc64'), /ppc64/);
});

test('picks linux/amd64 on x86_64 and linux/arm64 (v8, or no variant) on aarch64, whatever the order', () => {
  const index = [entry('arm7', 'linux', 'arm', 'v7'), entry('arm64', 'linux', 'arm64', 'v8'), entry('amd64', 'linux', 'amd64'), entry('win', 'windows', 'amd64')];
  assert.equal(pickPlatform(index, 'x', AMD64).digest, 'amd64');
  assert.equal(pickPlatform(index, 'x', ARM64).digest, 'arm64');
  assert.equal(pickPlatform([entry('a', 'linux', 'arm64'), entry('b', 'linux', 'amd64')], 'x', ARM64).digest, 'a', 'arm64 without a variant is v8');
  assert.equal(pickPlatform([entry('a', 'linux', 'arm64', 'v9'), entry('b', 'linux', 'arm64', 'v8')], 'x', ARM64).digest, 'b');
});

test('attestation entries (unknown/unknown) are neither picked nor listed; one entry without platform is taken (oras)', () => {
  const att = entry('att', 'unknown', 'unknown', undefined, { 'vnd.docker.reference.type': 'attestation-manifest' });
  assert.equal(pickPlatform([entry('img', 'linux', 'amd64'), att], 'x', AMD64).digest, 'img');
  assert.equal(pickPlatform([entry('only')], 'x', AMD64).digest, 'only');
  assert.throws(
    () => pickPlatform([entry('arm', 'linux', 'arm64'), att], 'reg/os:1', AMD64),
    (e: unknown) => e instanceof RegistryError && e.code === 'unsupported' && /reg\/os:1 has no linux\/amd64 entry \(entries: linux\/arm64\);/.test(e.message),
  );
});

test('no entry for this machine: refused, listing every platform the index has', () => {
  const index = [entry('a', 'linux', 'arm64', 'v8'), entry('b', 'linux', 's390x'), entry('c', 'windows', 'amd64')];
  assert.throws(() => pickPlatform(index, 'r/o:t', AMD64), /no linux\/amd64 entry \(entries: linux\/arm64\/v8, linux\/s390x, windows\/amd64\)/);
  assert.throws(() => pickPlatform([entry('d', 'linux', 'arm64', 'v8')], 'r/o:t', AMD64), /no linux\/amd64 entry/, 'one entry with another platform is not taken');
  assert.throws(() => pickPlatform([], 'r/o:t', AMD64), /entries: none/);
});
