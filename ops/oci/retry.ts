import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in a row without progress before giving up (the first try counts). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

// 0.5 s, 1 s, 2 s, 4 s, 8 s: about 15 s of patience, enough for a registry
// restart or a switch port flap, short enough that a dead registry fails the
// install while the technician is still watching.
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 8000 };

/** Delay before retry number `failures` (1 = after the first failure). */
export function backoffDelay(policy: RetryPolicy, failures: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - 1));
}

/** Waits, but gives up at once on abort with the signal's own reason (what every caller expects to see). */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}

/** Runs `op` until it succeeds, fails with a non-network error, or runs out of attempts. */
export async function retrying<T>(
  op: () => Promise<T>,
  opts: { policy: RetryPolicy; signal?: AbortSignal; onRetry: (err: Error, delayMs: number, attempt: number) => void },
): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await op();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (!isRetryable(err) || failures >= opts.policy.attempts) throw err;
      const delay = backoffDelay(opts.policy, failures);
      opts.onRetry(err as Error, delay, failures + 1);
      await pause(delay, opts.signal);
    }
  }
}
