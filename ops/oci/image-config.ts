// What a container image says about itself in its config blob (labels, os, architecture): read before any layer
// is pulled, for the console's Image screen. Small (a registry caps it like a manifest) and digest-checked.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { BlobLocation } from './client.ts';
import { RegistryError } from './errors.ts';
import type { ResolvedArtifact } from './manifest.ts';
import { DIGEST_RE } from './reference.ts';

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

const ConfigSchema = z.object({
  os: z.string().optional(),
  architecture: z.string().optional(),
  variant: z.string().optional(),
  config: z
    .object({ Labels: z.record(z.string(), z.string()).nullish() })
    .partial()
    .nullish(),
});

export interface ImageConfig {
  os?: string;
  architecture?: string;
  labels: Record<string, string>;
}

export const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

type RangeReader = (location: BlobLocation, start: number, endInclusive: number) => Promise<Buffer>;

/** The image config of a container image; undefined for an artifact (empty or custom config). */
export async function readImageConfig(read: RangeReader, resolved: ResolvedArtifact): Promise<ImageConfig | undefined> {
  const { config } = resolved;
  if (!IMAGE_CONFIG_TYPES.has(config.mediaType) || config.size === 0) return undefined;
  if (!DIGEST_RE.test(config.digest) || config.size > MAX_CONFIG_BYTES) {
    throw new RegistryError('unsupported', `the image config ${config.digest} (${config.size} bytes) is not a sha256 blob of at most 4 MiB`);
  }
  const bytes = await read({ reference: resolved.reference, layer: config }, 0, config.size - 1);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (digest !== config.digest) throw new RegistryError('digest-mismatch', `the image config has digest ${digest}, not ${config.digest}`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError('unsupported', `the image config ${config.digest} is not JSON`);
  }
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) throw new RegistryError('unsupported', `the image config ${config.digest} is malformed`);
  return { os: parsed.data.os, architecture: parsed.data.architecture, labels: parsed.data.config?.Labels ?? {} };
}

/** `Debian GNU/Linux 12 (bookworm)`-like words from the labels builders and base images set, if any. */
export function osFromLabels(labels: Record<string, string>): string | undefined {
  const l = (k: string) => labels[k]?.trim() || undefined;
  const title = l('org.opencontainers.image.title') ?? l('name');
  const version = l('org.opencontainers.image.version') ?? l('version');
  const named = [title, version].filter(Boolean).join(' ');
  return named || l('org.opencontainers.image.description') || l('description') || undefined;
}
