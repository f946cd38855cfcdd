import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or undefined when the body was empty or not JSON (the raw text is in `text`). */
  body: unknown;
  text: string;
  /** The status this request was answered with. */
  status: number;
}

export interface WebhookReceiver {
  port: number;
  /** For the host side: http://127.0.0.1:PORT */
  url: string;
  /** For a qemu user-networking guest, which reaches the host's loopback as 10.0.2.2. */
  guestUrl: string;
  /** Every request, in arrival order, including the ones answered 503. */
  requests: ReceivedRequest[];
  /** Resolves with the first request (past or future) matching `match`; rejects after `timeoutMs`. */
  waitFor(match: (r: ReceivedRequest) => boolean, timeoutMs: number): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  /** Answer the first N POSTs with 503, to exercise the sender's retries. */
  failFirst?: number;
}

/** A stand-in for the Shoal controller's status webhook on 127.0.0.1 (port chosen by the OS): records POSTs, answers 200 {"ok":true}. */
export async function startWebhookReceiver(opts: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<(r: ReceivedRequest) => void>();
  let posts = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      const failing = req.method === 'POST' && posts++ < (opts.failFirst ?? 0);
      const status = failing ? 503 : 200;
      const record: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, text, status };
      requests.push(record);
      for (const w of waiters) w(record);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(failing ? '{"ok":false,"error":"unavailable"}' : '{"ok":true}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    guestUrl: `http://10.0.2.2:${port}`,
    requests,
    waitFor(match, timeoutMs) {
      const seen = requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`webhook receiver: no matching request within ${timeoutMs} ms (${requests.length} received)`));
        }, timeoutMs);
        const waiter = (r: ReceivedRequest) => {
          if (!match(r)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(r);
        };
        waiters.add(waiter);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
