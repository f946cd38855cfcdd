import { Patience, busyLine, formatDelay, pause, type RetryPolicy, type Trouble } from '../retry.ts';
import { RegistryError, isRetryable } from './errors.ts';

/** Which budget a retryable registry failure draws on; undefined when another attempt would fail the same way. */
export function troubleOf(err: unknown): Trouble | undefined {
  if (err instanceof RegistryError && err.busy) return { kind: 'busy', ...err.busy };
  return isRetryable(err) ? { kind: 'failure' } : undefined;
}

/** `registry busy (HTTP 429), retrying in 2 s`, or `<reason>; retrying in 800 ms`: the retry log line after its subject. */
export function retryLine(trouble: Trouble, reason: string, delayMs: number, action = 'retrying'): string {
  return trouble.kind === 'busy' ? busyLine('registry', trouble, delayMs, action) : `${reason}; ${action} in ${formatDelay(delayMs)}`;
}

/** Runs `op` until it succeeds, fails with an error not worth retrying, or the patience for its trouble runs out. */
export async function retrying<T>(
  op: () => Promise<T>,
  opts: { policy: RetryPolicy; signal?: AbortSignal; onRetry: (err: Error, trouble: Trouble, delayMs: number, attempt: number) => void },
): Promise<T> {
  const patience = new Patience(opts.policy);
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const trouble = troubleOf(err);
      if (!trouble) throw err;
      const verdict = patience.next(trouble);
      if (!verdict.retry) {
        const error = err as RegistryError;
        throw new RegistryError(error.code, `${error.message} (${verdict.why})`, { cause: error.cause ?? error });
      }
      opts.onRetry(err as Error, trouble, verdict.delayMs, verdict.attempt);
      await pause(verdict.delayMs, opts.signal);
    }
  }
}
