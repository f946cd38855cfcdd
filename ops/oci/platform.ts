import { RegistryError } from './errors.ts';

/** An index entry's platform, as OCI image-index and Docker manifest-list descriptors carry it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PlatformEntry {
  digest: string;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** The OCI platform of the machine the installer runs on (Go's GOARCH names, which OCI uses). */
export function machinePlatform(arch: string = process.arch): Platform {
  if (arch === 'x64') return { os: 'linux', architecture: 'amd64' };
  if (arch === 'arm64') return { os: 'linux', architecture: 'arm64', variant: 'v8' };
  throw new RegistryError('unsupported', `this machine's architecture ${arch} is not one the installer picks images for (amd64, arm64)`);
}

export const platformName = (p: Platform | undefined) => (p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'no platform');

// BuildKit puts its provenance and SBOM attestations in the index as entries for `unknown/unknown`.
const isAttestation = (e: PlatformEntry) => e.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';

/** arm64 images often leave out the variant, which is v8 for every arm64 machine; other variants must match. */
function sameVariant(want: Platform, have: Platform): boolean {
  const norm = (p: Platform) => p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined);
  return norm(want) === norm(have);
}

/**
 * The entry of an index for this machine: linux, its architecture and variant. An index with one entry and no
 * platform (what oras pushes) is taken as is. None: refused, naming what the index has, before anything is written.
 */
export function pickPlatform<T extends PlatformEntry>(entries: T[], label: string, machine: Platform = machinePlatform()): T {
  const candidates = entries.filter((e) => !isAttestation(e));
  const matching = candidates.filter((e) => e.platform?.os === machine.os && e.platform.architecture === machine.architecture);
  const pick = matching.find((e) => sameVariant(machine, e.platform!)) ?? (candidates.length === 1 && !candidates[0]!.platform ? candidates[0] : undefined);
  if (pick) return pick;
  const platforms = candidates.map((e) => platformName(e.platform)).join(', ') || 'none';
  throw new RegistryError(
    'unsupported',
    `index ${label} has no ${platformName(machine)} entry (entries: ${platforms}); push an image for ${platformName(machine)}, or reference the wanted manifest by digest`,
  );
}
