import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, MiB, parseSize } from '../../ops/sizes.ts';

test('sizes in every accepted spelling are binary', () => {
  assert.deepEqual(parseSize('512M'), { kind: 'bytes', bytes: 512 * MiB });
  for (const s of ['1G', '1GiB', '1GB', '1g']) assert.deepEqual(parseSize(s), { kind: 'bytes', bytes: 1024 * MiB });
  assert.deepEqual(parseSize('2T'), { kind: 'bytes', bytes: 2 * 1024 * 1024 * MiB });
  assert.deepEqual(parseSize('1.5G'), { kind: 'bytes', bytes: 1536 * MiB });
  assert.deepEqual(parseSize('100%'), { kind: 'rest' });
});

test('nonsense sizes are refused with a hint', () => {
  for (const s of ['', '50%', 'M', '12', '1X', '-1G', '0M']) assert.throws(() => parseSize(s), /size/, s);
});

test('bytes print in binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536 * MiB), '1.5 GiB');
  assert.equal(formatBytes(300 * MiB), '300 MiB');
});
