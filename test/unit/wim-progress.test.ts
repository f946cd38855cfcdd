import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, WimApplyProgressParser, parseWimApplyLine, type WimApplyEvent } from '../../ops/windows/wimapply-progress.ts';

// Byte-exact stdout of wimapply (wimlib 1.13.5), trimmed in the middle: an
// NTFS-volume apply of 2103 files / 28 MiB, and small directory applies.
const NTFS_APPLY =
  'Applying image 1 ("m") from "/tmp/wx/m.wim" to NTFS volume "ntfs.img"\n' +
  '\rCreating files: 0 of 2103 (0%) done\rCreating files: 500 of 2103 (23%) done\rCreating files: 1000 of 2103 (47%) done' +
  '\rCreating files: 1500 of 2103 (71%) done\rCreating files: 2000 of 2103 (95%) done\rCreating files: 2103 of 2103 (100%) done\n' +
  '\rExtracting file data: 0 MiB of 28 MiB (0%) done\rExtracting file data: 0 MiB of 28 MiB (0%) done' +
  '\rExtracting file data: 27 MiB of 28 MiB (97%) done\rExtracting file data: 28 MiB of 28 MiB (99%) done' +
  '\rExtracting file data: 28 MiB of 28 MiB (100%) done\nDone applying WIM image.\n';
const TINY_APPLY = 'Applying image 1 ("s1") from "/tmp/wx/s1.wim" to directory "o1"\n\rExtracting file data: 3 bytes of 3 bytes (100%) done\nDone applying WIM image.\n';

function parseAll(chunks: (string | Uint8Array)[]): WimApplyEvent[] {
  const p = new WimApplyProgressParser();
  return [...chunks.flatMap((c) => p.push(c)), ...p.end()];
}

test('an NTFS apply: start, file creation, data extraction, done', () => {
  const events = parseAll([NTFS_APPLY]);
  assert.deepEqual(events[0], {
    phase: 'start',
    image: 1,
    imageName: 'm',
    wimFile: '/tmp/wx/m.wim',
    targetKind: 'ntfs',
    target: 'ntfs.img',
  });
  const creating = events.filter((e) => e.phase === 'creating-files');
  assert.equal(creating.length, 6);
  assert.deepEqual(creating[1], { phase: 'creating-files', done: 500, total: 2103, percent: 23, unit: 'files' });
  const data = events.filter((e) => e.phase === 'extracting-data');
  assert.equal(data.length, 5);
  assert.deepEqual(data.at(-1), {
    phase: 'extracting-data',
    done: 28,
    total: 28,
    percent: 100,
    unit: 'MiB',
    doneBytes: 28 * 2 ** 20,
    totalBytes: 28 * 2 ** 20,
  });
  assert.deepEqual(events.at(-1), { phase: 'done' });
  assert.equal(events.filter((e) => e.phase === 'message').length, 0);
});

test('every way of cutting the stream into two chunks gives the same events', () => {
  const whole = parseAll([NTFS_APPLY]);
  const bytes = Buffer.from(NTFS_APPLY);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, `cut at ${cut}`);
  }
  // One byte at a time, too.
  assert.deepEqual(parseAll([...bytes].map((b) => Buffer.from([b]))), whole);
});

test('a UTF-8 image name split between chunks is decoded whole', () => {
  const line = Buffer.from('Applying image 2 ("Windows Server — Standard") from "-" to NTFS volume "/dev/sda3"\n');
  const dash = line.indexOf(0xe2); // first byte of "—"
  const events = parseAll([line.subarray(0, dash + 1), line.subarray(dash + 1)]);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.phase === 'start' && events[0].imageName, 'Windows Server — Standard');
});

test('units: bytes, KiB, MiB, GiB are normalized to bytes', () => {
  const cases: [string, number, number][] = [
    ['Extracting file data: 3 bytes of 3 bytes (100%) done', 3, 3],
    ['Extracting file data: 480 KiB of 488 KiB (98%) done', 480 * 1024, 488 * 1024],
    ['Extracting file data: 41 MiB of 41 MiB (100%) done', 41 * 2 ** 20, 41 * 2 ** 20],
    ['Extracting file data: 7 GiB of 12 GiB (58%) done', 7 * 2 ** 30, 12 * 2 ** 30],
  ];
  for (const [line, doneBytes, totalBytes] of cases) {
    const e = parseWimApplyLine(line);
    assert.ok(e && e.phase === 'extracting-data', line);
    assert.equal(e.doneBytes, doneBytes, line);
    assert.equal(e.totalBytes, totalBytes, line);
  }
  assert.deepEqual(
    parseAll([TINY_APPLY]).map((e) => e.phase),
    ['start', 'extracting-data', 'done'],
  );
});

test('metadata phase, CRLF, unknown lines and a missing final newline', () => {
  const events = parseAll([
    '\rApplying metadata to files: 28297 of 28297 (100%) done\r\n',
    '[WARNING] Ignoring FILE_ATTRIBUTE_READONLY of 158 files\r',
    '\nDone applying WIM image.',
  ]);
  assert.deepEqual(events, [
    { phase: 'applying-metadata', done: 28297, total: 28297, percent: 100, unit: 'files' },
    { phase: 'message', line: '[WARNING] Ignoring FILE_ATTRIBUTE_READONLY of 158 files' },
    { phase: 'done' },
  ]);
});

test('LineSplitter joins a CR and LF that arrive in different chunks', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('a\r'), ['a']);
  assert.deepEqual(s.push('\nb\n\nc'), ['b', '']);
  assert.deepEqual(s.end(), ['c']);
  assert.deepEqual(s.end(), []);
});
