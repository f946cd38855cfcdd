// Feeding a verified download into a consumer that may stop reading early. wimapply needs neither the blob
// table, XML and trailer written at the end of a pipable WIM nor the blobs of other images, and nothing
// promises it reads to the end (wimlib 1.13.5 did, on the test WIMs). The blob's sha256 is only known at its
// last byte: so if the consumer closes its stdin early we keep reading, into nothing, until the digest is
// checked. `pipeline()` would instead destroy the download on the consumer's EPIPE.
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

export interface FeedResult {
  /** Bytes the consumer took before it closed its input (all of them when it read to the end). */
  fed: number;
  /** Bytes read after the consumer had stopped, only to finish the digest check. */
  drained: number;
}

/** Copy `source` into `sink` with backpressure; when `sink` goes away, drain `source` to its end. Rejects on a source error. */
export async function feedThenDrain(source: Readable, sink: Writable): Promise<FeedResult> {
  let open = true;
  const closed = () => {
    open = false;
  };
  // EPIPE/ERR_STREAM_DESTROYED on the sink means "the reader is done", never a reason to stop the digest check.
  sink.on('error', closed);
  sink.once('close', closed);
  const result: FeedResult = { fed: 0, drained: 0 };
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      if (open && sink.writable) {
        result.fed += buf.length;
        if (!sink.write(buf)) {
          // Whichever comes first; the other listener is removed, or thousands would pile up over a long pull.
          const done = new AbortController();
          await Promise.race([once(sink, 'drain', { signal: done.signal }), once(sink, 'close', { signal: done.signal })]).catch(() => undefined);
          done.abort();
        }
      } else {
        result.drained += buf.length;
      }
    }
  } finally {
    if (open && sink.writable) sink.end();
  }
  return result;
}
