/**
 * The one error type of the OCI client. Callers (the runner, the faces)
 * branch on `code`; the message is for the technician, so it names the
 * registry or reference and says what to do next.
 */
export type RegistryErrorCode =
  | 'unauthorized'
  | 'not-found'
  | 'digest-mismatch'
  | 'network'
  | 'bad-reference'
  | 'unsupported'
  | 'tls';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Only transport-level failures are worth another attempt; everything else would fail the same way again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof RegistryError && err.code === 'network';
}
