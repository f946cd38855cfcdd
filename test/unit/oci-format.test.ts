import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { RegistryError } from '../../ops/oci/errors.ts';
import { detectFormat, formatFromMetadata, FORMAT_SNIFF_BYTES, peek } from '../../ops/oci/format.ts';

const NONE = new Uint8Array();
const ORAS_DEFAULT = 'application/vnd.oci.image.layer.v1.tar';
const GZIP = gzipSync(Buffer.from('hello'));
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x05]);
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]);
const WIM = Buffer.from('MSWIM\0\0\0\xd0\0\0\0', 'latin1');

function ustarHeader(): Buffer {
  const block = Buffer.alloc(512);
  block.write('etc/os-release', 0);
  block.write('ustar\0' + '00', 257, 'latin1');
  return block;
}

test('the media type decides first', () => {
  const cases: [string, string][] = [
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.shoal.rootfs.tar.gz', 'gzip'],
    ['application/gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.shoal.rootfs.tar.zst', 'zstd'],
    ['application/vnd.oci.image.layer.v1.tar+xz', 'xz'],
    ['application/vnd.shoal.windows.wim', 'wim'],
    ['application/x-tar', 'tar'],
    ['application/vnd.docker.image.rootfs.diff.tar', 'tar'],
    ['Application/VND.OCI.Image.Layer.v1.Tar+Gzip; charset=binary', 'gzip'],
  ];
  for (const [mediaType, format] of cases) {
    // The title points elsewhere on purpose: the media type wins.
    assert.equal(detectFormat({ mediaType, title: 'x.xz' }, NONE), format, mediaType);
  }
});

test('then the title: the oras default type says nothing about compression', () => {
  assert.equal(detectFormat({ mediaType: ORAS_DEFAULT, title: 'rootfs.tar.gz' }, NONE), 'gzip');
  assert.equal(detectFormat({ mediaType: 'application/octet-stream', title: 'rootfs.TAR.ZST' }, NONE), 'zstd');
  assert.equal(detectFormat({ mediaType: 'application/vnd.example.opaque', title: 'root.txz' }, NONE), 'xz');
  assert.equal(detectFormat({ mediaType: 'application/octet-stream', title: 'install.wim' }, NONE), 'wim');
  assert.equal(detectFormat({ mediaType: 'application/octet-stream', title: 'rootfs.tar' }, NONE), 'tar');
});

test('then the magic bytes', () => {
  const opaque = { mediaType: 'application/vnd.example.opaque', title: 'rootfs' };
  assert.equal(detectFormat(opaque, GZIP), 'gzip');
  assert.equal(detectFormat(opaque, ZSTD), 'zstd');
  assert.equal(detectFormat(opaque, XZ), 'xz');
  assert.equal(detectFormat(opaque, WIM), 'wim');
  assert.equal(detectFormat(opaque, Buffer.from('WLPWM\0\0\0', 'latin1')), 'wim', 'a pipable WIM');
  assert.equal(detectFormat(opaque, ustarHeader()), 'tar');
  assert.equal(detectFormat({ mediaType: ORAS_DEFAULT }, GZIP), 'gzip');
});

test('an unlabelled, magic-less file under the oras default type is a tar; under an opaque type it is refused', () => {
  assert.equal(detectFormat({ mediaType: ORAS_DEFAULT }, Buffer.alloc(512)), 'tar');
  assert.throws(
    () => detectFormat({ mediaType: 'application/octet-stream', title: 'blob.bin' }, Buffer.from('plain text')),
    (e: unknown) => e instanceof RegistryError && e.code === 'unsupported' && /blob\.bin/.test(e.message),
  );
});

test('formatFromMetadata: the labels only, undefined when they do not tell', () => {
  assert.equal(formatFromMetadata({ mediaType: ORAS_DEFAULT, title: 'rootfs.tar.gz' }), 'gzip');
  assert.equal(formatFromMetadata({ mediaType: ORAS_DEFAULT }), undefined);
  assert.equal(formatFromMetadata({ mediaType: 'application/vnd.example.opaque', title: 'rootfs' }), undefined);
});

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('peek returns the first bytes and a stream that still yields all of them', async () => {
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const chunks = [data.subarray(0, 100), data.subarray(100, 300), data.subarray(300)];
  const { head, stream } = await peek(Readable.from(chunks), FORMAT_SNIFF_BYTES);
  assert.deepEqual(head, data.subarray(0, FORMAT_SNIFF_BYTES));
  assert.deepEqual(await collect(stream), data);
});

test('peek on a stream shorter than asked gives what there is', async () => {
  const { head, stream } = await peek(Readable.from([Buffer.from('abc')]), 512);
  assert.equal(head.toString(), 'abc');
  assert.equal((await collect(stream)).toString(), 'abc');
});

test('peek passes a late source error on: the consumer sees an error, not an end', async () => {
  async function* failing() {
    yield Buffer.alloc(1000, 1);
    yield Buffer.alloc(1000, 2);
    throw new RegistryError('digest-mismatch', 'damaged');
  }
  const { stream } = await peek(Readable.from(failing(), { objectMode: false }), 10);
  let ended = false;
  stream.on('end', () => (ended = true));
  await assert.rejects(collect(stream), (e: unknown) => e instanceof RegistryError && e.code === 'digest-mismatch');
  assert.equal(ended, false);
});

test('destroying the peeked stream destroys the source', async () => {
  const source = new Readable({ read() {} });
  source.push(Buffer.alloc(600));
  const { stream } = await peek(source, 262);
  stream.destroy();
  await finished(source).catch(() => {});
  assert.equal(source.destroyed, true);
});

test('a source that fails after peek, before the consumer reads: the consumer gets the error, nothing goes unheard', async () => {
  const source = new Readable({ read() {} });
  source.push(Buffer.alloc(600));
  const { stream } = await peek(source, 262);
  source.destroy(new RegistryError('network', 'cancelled between the peek and the pipeline'));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(collect(stream), /cancelled between the peek and the pipeline/);
});

test('peek on a stream that failed before its turn (a layer fetched ahead) rejects with its error, never hangs', async () => {
  const ahead = new Readable({ read() {} });
  ahead.on('error', () => undefined);
  ahead.destroy(new RegistryError('digest-mismatch', 'layer 2 is damaged'));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(peek(ahead, 512), /layer 2 is damaged/);
});
