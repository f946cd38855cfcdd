/**
 * A rack of installs for the fleet test and `npm run bench:fleet` (issue 14): a gate in front of the origin
 * registry that lets only a few blob downloads through at a time and answers the rest 429 with Retry-After, as a
 * registry under load does; and N CLI installs at once, each onto its own disk image.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { resultOf, runCli, type CliRun } from './cli.ts';
import { makeDiskImage } from './disk.ts';

export interface Gate {
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  /** Blob GETs answered 2xx, by digest: what the origin really served. */
  readonly served: Map<string, number>;
  /** Body bytes of those blob GETs. */
  readonly bytesServed: number;
  /** Blob GETs answered 429 because the gate was full. */
  readonly turnedAway: number;
  /** The most blob downloads that ran at once. */
  readonly peak: number;
  close(): Promise<void>;
}

const BLOB_GET = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;

/**
 * Forwards everything to `upstream` (`http://HOST:PORT`); at most `maxDownloads` blob GETs at a time, each sent at
 * `bytesPerSecond` (an uplink, so that downloads overlap as they do in a rack).
 */
export async function startGate(upstream: string, opts: { maxDownloads: number; retryAfterSeconds: number; bytesPerSecond: number }): Promise<Gate> {
  const target = new URL(upstream);
  const served = new Map<string, number>();
  let bytesServed = 0;
  let turnedAway = 0;
  let inFlight = 0;
  let peak = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const blob = req.method === 'GET' ? BLOB_GET.exec(req.url ?? '')?.[1] : undefined;
    if (blob && inFlight >= opts.maxDownloads) {
      turnedAway++;
      res.writeHead(429, { 'retry-after': String(opts.retryAfterSeconds), 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"busy"}]}');
      return;
    }
    if (blob) peak = Math.max(peak, ++inFlight);
    let released = false;
    const release = () => {
      if (blob && !released) inFlight--;
      released = true;
    };
    res.once('close', release);
    const forward = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      const ok = blob !== undefined && (answer.statusCode ?? 0) < 300;
      answer.on('data', (chunk: Buffer) => {
        res.write(chunk);
        if (!ok) return;
        bytesServed += chunk.length;
        answer.pause();
        setTimeout(() => answer.resume(), (chunk.length / opts.bytesPerSecond) * 1000);
      });
      answer.once('end', () => {
        res.end();
        if (ok) served.set(blob, (served.get(blob) ?? 0) + 1);
      });
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: `http://${host}`,
    served,
    get bytesServed() {
      return bytesServed;
    },
    get turnedAway() {
      return turnedAway;
    },
    get peak() {
      return peak;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface FleetRun {
  runs: CliRun[];
  wallMs: number;
  /** Installs that exited 0 with a successful result. */
  succeeded: number;
}

/**
 * `count` installs of `image` at once, each onto its own 256 MiB disk image under `dir`, stopping before the
 * boot loader (partition, format, image-linux.service). `registry` is the recipe's registry block.
 */
export async function runFleet(opts: { dir: string; name: string; count: number; image: string; registry: Record<string, unknown> }): Promise<FleetRun> {
  const prepared = await Promise.all(
    Array.from({ length: opts.count }, async (_, i) => {
      const recipe = join(opts.dir, `${opts.name}-${i}.json`);
      await writeFile(
        recipe,
        JSON.stringify({
          task_target: 'install-linux.target',
          target_disk: '/dev/null-disk',
          oci_url: opts.image,
          partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/', label: 'root' }],
          registry: opts.registry,
        }),
      );
      return { recipe, disk: makeDiskImage(join(opts.dir, `${opts.name}-${i}.img`), '256M') };
    }),
  );
  const started = Date.now();
  const runs = await Promise.all(
    prepared.map(({ recipe, disk }) =>
      runCli(['install', '--recipe', recipe, '--disk', disk, '--yes', '--json', '--stop-before', 'bootloader-linux.service'], { timeoutMs: 600_000 }),
    ),
  );
  const wallMs = Date.now() - started;
  // Every install has detached its disk by now (the CLI exited); the images only take room.
  await Promise.all(prepared.map(({ recipe, disk }) => Promise.all([rm(recipe), rm(disk)])));
  return { runs, wallMs, succeeded: runs.filter((r) => r.code === 0 && resultOf(r)?.ok === true).length };
}
