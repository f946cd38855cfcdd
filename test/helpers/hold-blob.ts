/**
 * A plain-HTTP proxy in front of a test registry that holds one blob's response open mid-stream: it passes
 * the first `afterBytes` bytes, then sends nothing more until the test calls release(). A fault (a signal, a
 * kill, a deleted file) is then injected while the install is known to be inside the pull, not after a sleep
 * that a fast machine outruns. Every other request goes through untouched.
 */
import { request } from 'node:http';
import { serve, type TestServer } from './http-server.ts';

export interface BlobHold {
  /** `127.0.0.1:PORT`: name this in the recipe's oci_url instead of the registry. */
  host: string;
  server: TestServer;
  /** Each blob response the proxy passed on: its status (206 = a resumed pull) and the Range asked for. */
  blobResponses: { status: number; range?: string }[];
  /** Resolves once a response of the blob has sent `afterBytes` and is being held. */
  reached: Promise<void>;
  /** Lets held responses go on, and every later one through whole. */
  release(): void;
  close(): Promise<void>;
}

/** `upstream` is a test registry, or anything else speaking plain HTTP at `url` (a proxy of the test's). */
export async function holdBlob(upstreamServer: { url: string }, digest: string, afterBytes = 1024 * 1024): Promise<BlobHold> {
  const upstream = new URL(upstreamServer.url);
  if (upstream.protocol !== 'http:') throw new Error('holdBlob: proxies a plain-HTTP registry only');
  let released = false;
  const waiting: (() => void)[] = [];
  let onReached!: () => void;
  const reached = new Promise<void>((resolve) => (onReached = resolve));
  const blobResponses: BlobHold['blobResponses'] = [];
  const server = await serve((req, res) => {
    const blob = req.method === 'GET' && (req.url ?? '').includes(`/blobs/${digest}`);
    const held = blob && !released;
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (up) => {
      if (blob) blobResponses.push({ status: up.statusCode ?? 0, range: req.headers.range });
      res.writeHead(up.statusCode ?? 502, up.headers);
      let sent = 0;
      up.on('data', (chunk: Buffer) => {
        res.write(chunk);
        sent += chunk.length;
        if (held && !released && sent >= afterBytes && !up.isPaused()) {
          up.pause();
          waiting.push(() => up.resume());
          onReached();
        }
      });
      up.on('end', () => res.end());
      // Cut off mid-body as a dying registry does: a FIN after the last byte sent, so the client keeps them all.
      up.on('error', () => res.socket?.end());
    });
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  return {
    host: server.host,
    server,
    blobResponses,
    reached,
    release() {
      released = true;
      for (const go of waiting.splice(0)) go();
    },
    close: () => server.close(),
  };
}
