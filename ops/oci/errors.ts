import type { Busy } from '../retry.ts';

/**
 * The one error type of the OCI client. Callers (the runner, the faces)
 * branch on `code`; the message is for the technician, so it names the
 * registry or reference and says what to do next.
 */
export type RegistryErrorCode = 'unauthorized' | 'not-found' | 'digest-mismatch' | 'network' | 'bad-reference' | 'unsupported' | 'tls';

/** What the technician or operator can do about each kind of registry failure. */
const HINTS: Record<RegistryErrorCode, string> = {
  unauthorized: 'give the registry credentials: registry_username/registry_password on the task ISO, or the recipe\'s "registry" block',
  'not-found': 'check oci_url: is the image pushed to that repository under that tag? (GET /v2/<repository>/tags/list on the registry lists the tags)',
  'digest-mismatch': 'the artifact in the registry is damaged: push it again, then restart the install',
  network: "check the maintenance OS's network (ip addr) and that the registry is up, then restart the install",
  'bad-reference': 'fix oci_url: host[:port]/repository[:tag|@sha256:digest]',
  unsupported: 'push the image as a single-file artifact (oras push) in a format the installer reads: tar, gzip, zstd, xz or WIM',
  tls: "give the registry's CA (registry.ca_file, or shoal.registry_ca=), or list the registry in plain_http if it speaks plain HTTP",
};

export class RegistryError extends Error {
  override readonly name = 'RegistryError';

  get hint(): string {
    return HINTS[this.code];
  }

  /** Set when the registry said "busy" (429, or 503 with Retry-After): it gets the busy patience, not the failure budget. */
  readonly busy?: Busy;

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown; busy?: Busy },
  ) {
    super(message, options);
    if (options?.busy) this.busy = options.busy;
  }
}

/** Only transport-level failures are worth another attempt; everything else would fail the same way again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof RegistryError && err.code === 'network';
}
