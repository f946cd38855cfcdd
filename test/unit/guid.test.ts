import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bracedGuid, bytesToGuid, guidToBytes, isGuid, normalizeGuid } from '../../ops/windows/guid.ts';

test('guidToBytes stores the first three groups little-endian, the rest as written', () => {
  assert.equal(guidToBytes('00112233-4455-6677-8899-aabbccddeeff').toString('hex'), '33221100554477668899aabbccddeeff');
});

test('the EFI system partition type GUID has its well-known on-disk bytes', () => {
  // C12A7328-F81F-11D2-BA4B-00A0C93EC93B as it appears in a GPT partition entry.
  assert.equal(guidToBytes('C12A7328-F81F-11D2-BA4B-00A0C93EC93B').toString('hex'), '28732ac11ff8d211ba4b00a0c93ec93b');
  assert.equal(bytesToGuid(Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex')), 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
});

test('round trip, braces and case accepted, output lowercase without braces', () => {
  const g = '{9DEA862C-5CDD-4E70-ACC1-F32B344D4795}';
  assert.equal(bytesToGuid(guidToBytes(g)), '9dea862c-5cdd-4e70-acc1-f32b344d4795');
  assert.equal(normalizeGuid(g), '9dea862c-5cdd-4e70-acc1-f32b344d4795');
  assert.equal(bracedGuid('9dea862c-5cdd-4e70-acc1-f32b344d4795'), '{9dea862c-5cdd-4e70-acc1-f32b344d4795}');
});

test('bytesToGuid reads at an offset inside a larger buffer', () => {
  const buf = Buffer.concat([Buffer.alloc(5, 0xff), guidToBytes('01234567-89ab-cdef-0123-456789abcdef'), Buffer.alloc(3)]);
  assert.equal(bytesToGuid(buf, 5), '01234567-89ab-cdef-0123-456789abcdef');
  assert.equal(bytesToGuid(buf.subarray(5)), '01234567-89ab-cdef-0123-456789abcdef');
  assert.throws(() => bytesToGuid(buf, 10), /need 16 bytes/);
});

test('malformed GUIDs are refused', () => {
  for (const bad of [
    '',
    'zzzzzzzz-5cdd-4e70-acc1-f32b344d4795',
    '9dea862c5cdd4e70acc1f32b344d4795',
    '{9dea862c-5cdd-4e70-acc1-f32b344d4795',
    '9dea862c-5cdd-4e70-acc1-f32b344d47951',
  ]) {
    assert.equal(isGuid(bad), false, bad);
    assert.throws(() => guidToBytes(bad), /not a GUID/);
  }
  assert.equal(isGuid(' 9dea862c-5cdd-4e70-acc1-f32b344d4795 '), true);
});
