import assert from 'node:assert/strict';
import { shBytes } from '../helpers/disk.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TarEntryReader, TarFormatError, type TarEntry } from '../../ops/linux/tar-entries.ts';

let dir: string;
const LONG = `${'d'.repeat(120)}/${'n'.repeat(150)}`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tar-entries-'));
  shBytes(`cd ${dir} && mkdir -p t/etc t/${LONG.split('/')[0]} && echo hi > t/etc/hosts && echo long > t/${LONG}
    ln -s ../${LONG} t/etc/to-long && ln t/etc/hosts t/etc/hosts-link && mkdir t/.wh..wh..opq-not && : > t/etc/.wh.gone
    truncate -s 50M t/sparse && echo end >> t/sparse && printf x | dd of=t/sparse bs=1 seek=1000 conv=notrunc 2>/dev/null
    mkfifo t/fifo && ln -s hosts t/etc/short`);
});
after(() => rm(dir, { recursive: true, force: true }));

/** What GNU tar lists, in its order, as our reader should see it. */
function listed(archive: string): string[] {
  return shBytes(`tar -tf ${archive}`)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
    .filter((p) => p !== '' && p !== '.');
}

function read(bytes: Buffer, chunk: number): TarEntry[] {
  const reader = new TarEntryReader();
  const out: TarEntry[] = [];
  for (let at = 0; at < bytes.length; at += chunk) out.push(...reader.push(bytes.subarray(at, at + chunk)));
  assert.ok(reader.ended, 'the end of the archive was seen');
  return out.filter((e) => e.path !== '');
}

for (const format of ['gnu', 'posix', 'ustar']) {
  test(`${format} archives: every entry GNU tar lists, with kinds and link targets, whatever the chunking`, () => {
    const archive = join(dir, `${format}.tar`);
    // ustar cannot hold the 150-character name: that format gets the tree without it.
    const exclude = format === 'ustar' ? `--exclude=./${LONG.split('/')[0]} --exclude=./etc/to-long` : '';
    shBytes(`tar --format=${format} ${format === 'ustar' ? '' : '--sparse'} ${exclude} -C ${dir}/t -cf ${archive} .`);
    const bytes = shBytes(`cat ${archive}`);
    const expected = listed(archive);
    for (const chunk of [1, 7, 511, 512, 513, 65536, bytes.length]) {
      const entries = read(bytes, chunk);
      assert.deepEqual(
        entries.map((e) => e.path),
        expected,
        `chunks of ${chunk}`,
      );
    }
    const byPath = new Map(read(bytes, 4096).map((e) => [e.path, e]));
    assert.equal(byPath.get('etc')?.kind, 'dir');
    assert.equal(byPath.get('sparse')?.kind, 'file');
    assert.equal(byPath.get('fifo')?.kind, 'other');
    assert.equal(byPath.get('etc/.wh.gone')?.kind, 'file');
    const pair = [byPath.get('etc/hosts')!, byPath.get('etc/hosts-link')!];
    const link = pair.find((e) => e.kind === 'hardlink')!;
    assert.deepEqual(pair.map((e) => e.kind).sort(), ['file', 'hardlink']);
    assert.equal(link.linkpath, `./${pair.find((e) => e.kind === 'file')!.path}`);
    if (format !== 'ustar') assert.deepEqual([byPath.get('etc/to-long')?.kind, byPath.get('etc/to-long')?.linkpath], ['symlink', `../${LONG}`]);
  });
}

test('a damaged header (bad checksum) or data on a symlink entry is a TarFormatError, not a silent desync', () => {
  const archive = join(dir, 'bad.tar');
  shBytes(`tar -C ${dir}/t -cf ${archive} ./etc/hosts`);
  const bytes = shBytes(`cat ${archive}`);
  const damaged = Buffer.from(bytes);
  damaged[10] = damaged[10]! ^ 0xff;
  assert.throws(() => new TarEntryReader().push(damaged), TarFormatError);
  const symlink = join(dir, 'sym.tar');
  shBytes(`tar -C ${dir}/t -cf ${symlink} ./etc/short`);
  const sym = Buffer.from(shBytes(`cat ${symlink}`));
  // Give the symlink entry a size of 512 and a fixed checksum: GNU tar and a careless reader would disagree on what follows.
  sym.write('00000001000\0', 124, 'latin1');
  sym.write('        ', 148, 'latin1');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += sym[i]!;
  sym.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.throws(() => new TarEntryReader().push(sym), /carries 512 bytes/);
});
