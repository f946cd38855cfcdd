/**
 * Waiting for the network at boot: on an unknown server, DHCP on every NIC takes a while and a link may come up
 * late. Auto mode waits, bounded, until the registry accepts a TCP connection, so that the job does not fail on a
 * network that is still coming up, and so that a network that never comes up is named as such.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseReference } from './oci/reference.ts';
import { schemePolicy } from './oci/transport.ts';

export interface Endpoint {
  host: string;
  port: number;
}

const shownEndpoint = (e: Endpoint) => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** `HOST[:PORT]` -> host and port (no port: 80 for a plain-HTTP registry, else 443). */
function endpointOf(registry: string, plainHttp: readonly string[]): Endpoint | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(registry);
  if (!m) return undefined;
  const port = m[3] ? Number(m[3]) : schemePolicy(registry, plainHttp) === 'http' ? 80 : 443;
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * Where the image can come from: the registry of an image reference, then its mirrors (a pull goes on through a
 * mirror when the origin does not answer). Empty without a usable reference.
 */
export function registryEndpoints(ociUrl: string | undefined, mirrors: readonly string[], plainHttp: readonly string[]): Endpoint[] {
  if (!ociUrl) return [];
  let registry: string;
  try {
    registry = parseReference(ociUrl).registry;
  } catch {
    // A bad reference is the image step's to report, with its own words.
    return [];
  }
  return [registry, ...mirrors].map((r) => endpointOf(r, plainHttp)).filter((e): e is Endpoint => e !== undefined);
}

export class NetworkUnreachable extends Error {
  override name = 'NetworkUnreachable';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

const WHY: Record<string, string> = {
  ENOTFOUND: 'the name does not resolve (DNS)',
  EAI_AGAIN: 'the name does not resolve yet (DNS)',
  ENETUNREACH: 'no route to its network (no address yet?)',
  EHOSTUNREACH: 'the host is unreachable',
  ECONNREFUSED: 'connection refused (nothing listens on that port)',
  ETIMEDOUT: 'no answer',
};

/** One TCP connect: true, or why not. */
function tryConnect(e: Endpoint, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    const socket = connect({ host: e.host, port: e.port, timeout: timeoutMs });
    const done = (r: true | string) => {
      socket.destroy();
      resolve(r);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(`no answer within ${Math.round(timeoutMs / 1000)} s`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(WHY[err.code ?? ''] ?? err.code ?? err.message));
  });
}

export interface NetWaitOptions {
  say: (message: string) => void;
  signal?: AbortSignal;
  /** Between attempts. */
  pollMs?: number;
  connectTimeoutMs?: number;
  /** How often the console hears that we are still waiting. */
  reportEveryMs?: number;
}

/**
 * Wait up to `seconds` until one of `endpoints` (the registry, then its mirrors) accepts a connection;
 * NetworkUnreachable names the registry and what to check.
 */
export async function waitForRegistry(endpoints: readonly Endpoint[], seconds: number, opts: NetWaitOptions): Promise<void> {
  const [endpoint] = endpoints;
  if (!endpoint) return;
  const mirrors = endpoints.slice(1).map(shownEndpoint);
  const shown = `${shownEndpoint(endpoint)}${mirrors.length ? ` (or its mirror${mirrors.length > 1 ? 's' : ''} ${mirrors.join(', ')})` : ''}`;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  let lastSaid: number | undefined;
  for (;;) {
    // At least a second per attempt even at the bound: a last probe cut to a millisecond would time out before a
    // refusal could arrive, and the message would name the wrong cause.
    const attemptMs = Math.min(opts.connectTimeoutMs ?? 5000, Math.max(deadline - Date.now(), 1000));
    const outcomes = await Promise.all(endpoints.map((e) => tryConnect(e, attemptMs)));
    opts.signal?.throwIfAborted();
    const now = Date.now();
    const waited = Math.round((now - started) / 1000);
    const reached = outcomes.findIndex((o) => o === true);
    if (reached >= 0) {
      if (lastSaid !== undefined) opts.say(`the registry ${shownEndpoint(endpoints[reached]!)} is reachable (after ${waited} s)`);
      return;
    }
    // Why the origin is not reachable says most about the network.
    const outcome = outcomes[0] as string;
    if (now >= deadline) {
      throw new NetworkUnreachable(
        `the network is not up: the registry ${shown} could not be reached within ${seconds} s (${outcome})`,
        `check this machine's network: the cable and link of its NIC, that DHCP gives it an address (ip addr), that ${endpoint.host} resolves and routes, and that the registry listens on port ${endpoint.port}; shoal.net_wait= sets how long to wait`,
      );
    }
    if (lastSaid === undefined || now - lastSaid >= (opts.reportEveryMs ?? 10_000)) {
      opts.say(`waiting for the network: registry ${shown} not reachable yet (${waited} s; ${outcome})`);
      lastSaid = now;
    }
    await sleep(Math.min(opts.pollMs ?? 1000, deadline - now), undefined, { signal: opts.signal });
  }
}
