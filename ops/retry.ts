/**
 * The installer's one retry policy, shared by the registry client and the status webhook: how long to wait
 * after a failure, what a busy server's Retry-After means, and how much patience each kind of trouble gets.
 * A server that answers "busy" is alive and will serve us later, so it gets a long budget of its own; a
 * connection that fails gets a few attempts, and only real progress gives them back.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Failed attempts in a row without real progress before giving up (the first try counts). */
  attempts: number;
  /** Exponential backoff with full jitter: a random wait in 0..min(max, base * 2^(n-1)) before retry n. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Fixed waits before the 2nd, 3rd, ... attempt instead of the backoff (the webhook contract's 30/60/120 s). */
  schedule?: readonly number[];
  /** Time spent waiting on "busy" answers (since the last real progress) before giving up. */
  busyPatienceMs: number;
}

// Full jitter keeps a rack from retrying in lockstep; the caps add up to 30 s, so a dead registry fails
// after about 15 s on average while the technician is still watching.
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 1000, maxDelayMs: 15_000, busyPatienceMs: 30 * 60_000 };

/** A Retry-After longer than this is taken as this: a server's typo must not park an install for a day. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (RFC 9110 10.2.3), capped at MAX_RETRY_AFTER_MS.
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  let ms: number;
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000;
  } else {
    const at = Date.parse(value);
    if (!/[a-z]/i.test(value) || Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * A "busy" answer: 429 always, 503 only with a Retry-After (a 503 without one is as likely a registry that
 * is restarting or broken, which is a failure like any other). Undefined for every other answer.
 */
export function busyAnswer(status: number, headers: Record<string, string | string[] | undefined>): Busy | undefined {
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) return { status, retryAfterMs };
  return undefined;
}

export interface Busy {
  status: number;
  retryAfterMs?: number;
}

export type Trouble = { kind: 'failure' } | ({ kind: 'busy' } & Busy);

export type Verdict = { retry: true; delayMs: number; attempt: number } | { retry: false; why: string };

/** `1.5 s`, `250 ms`: for the log lines that announce a wait. */
export function formatDelay(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${Math.round(ms)} ms`;
}

/** `registry busy (HTTP 429, Retry-After 1 s), retrying in 1.3 s`: what the console and the log say while a server is busy. */
export function busyLine(who: string, busy: Busy, delayMs: number, action = 'retrying'): string {
  const asked = busy.retryAfterMs !== undefined ? `, Retry-After ${formatDelay(busy.retryAfterMs)}` : '';
  return `${who} busy (HTTP ${busy.status}${asked}), ${action} in ${formatDelay(delayMs)}`;
}

/** The two budgets of one operation (a blob pull, a manifest fetch, a webhook POST). */
export class Patience {
  private failures = 0;
  private busyWaits = 0;
  private busyWaitedMs = 0;
  private attempts = 1;

  constructor(
    readonly policy: RetryPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Real progress: both budgets are full again. */
  refill(): void {
    this.failures = 0;
    this.busyWaits = 0;
    this.busyWaitedMs = 0;
  }

  /** Whether to try again after `trouble`, and after how long. */
  next(trouble: Trouble): Verdict {
    const { policy } = this;
    if (trouble.kind === 'failure') {
      this.failures++;
      if (this.failures >= policy.attempts) {
        return { retry: false, why: `gave up after ${this.failures} attempt${this.failures === 1 ? '' : 's'} without progress` };
      }
      const delayMs = policy.schedule?.[this.failures - 1] ?? this.backoff(this.failures);
      return { retry: true, delayMs, attempt: ++this.attempts };
    }
    this.busyWaits++;
    // Retry-After is waited in full, plus up to half again, so clients told the same second spread out;
    // `Retry-After: 0` from a server under load must not turn into a tight loop.
    const delayMs =
      trouble.retryAfterMs !== undefined
        ? Math.round(Math.max(trouble.retryAfterMs, Math.min(policy.baseDelayMs, 1000)) * (1 + this.random() / 2))
        : this.backoff(this.busyWaits, Math.max(policy.baseDelayMs, 1));
    if (this.busyWaitedMs + delayMs > policy.busyPatienceMs) {
      return { retry: false, why: `still busy after ${formatDelay(this.busyWaitedMs)} of waiting (the busy patience is ${formatDelay(policy.busyPatienceMs)})` };
    }
    this.busyWaitedMs += delayMs;
    return { retry: true, delayMs, attempt: ++this.attempts };
  }

  private backoff(n: number, floorMs = 0): number {
    const cap = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (n - 1));
    return Math.round(floorMs + this.random() * Math.max(0, cap - floorMs));
  }
}

/** Waits, but gives up at once on abort with the signal's own reason (what every caller expects to see). */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}
