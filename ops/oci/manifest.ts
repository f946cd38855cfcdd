import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RegistryError } from './errors.ts';
import { DIGEST_RE, formatReference, type ImageReference } from './reference.ts';
import { readSmallBody, responseError, type HttpResponse } from './transport.ts';
import { pickPlatform, platformName } from './platform.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

const TITLE_ANNOTATION = 'org.opencontainers.image.title';

// Config media types of container images. Any other config type on an
// artifact without `artifactType` is the artifact type (image-spec 1.1
// guidance; this is where oras before 1.1 put --artifact-type).
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json', 'application/vnd.oci.empty.v1+json']);

// Registries cap manifests at 4 MiB (distribution does); more is not a manifest.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const DescriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string(),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).optional(),
});

const ImageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  artifactType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});

const ImageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  manifests: z.array(DescriptorSchema),
});

type Descriptor = z.infer<typeof DescriptorSchema>;

export interface ArtifactLayer {
  digest: string;
  size: number;
  mediaType: string;
  /** The file name oras recorded (annotation org.opencontainers.image.title). */
  title?: string;
}

export interface ResolvedArtifact {
  reference: ImageReference;
  /** Digest of the image manifest holding the layers (the platform's manifest when the reference names an index). */
  manifestDigest: string;
  /** The index entry's platform (`linux/amd64`) when the reference named an index. */
  platform?: string;
  artifactType?: string;
  configMediaType: string;
  /** The image config blob (labels, os, architecture of a container image). */
  config: { digest: string; size: number; mediaType: string };
  /** The first layer: the one file of a single-file artifact. */
  layer: ArtifactLayer;
  /** Every layer, bottom first (a single-file artifact: `[layer]`). */
  layers: ArtifactLayer[];
}

/** The layer media types of container images (OCI and Docker); oras files carry a title instead. */
const IMAGE_LAYER_TYPES = /^application\/vnd\.(oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+(gzip|zstd))?|docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?)$/;

/** A container image's layer stack, as opposed to files pushed side by side with oras (which carry titles). */
const isLayerStack = (layers: Descriptor[]) => layers.every((l) => IMAGE_LAYER_TYPES.test(l.mediaType) && !l.annotations?.[TITLE_ANNOTATION]);

/** GETs `/v2/<repo>/manifests/<tagOrDigest>` with the Accept header above, authenticated. */
export type ManifestFetcher = (tagOrDigest: string) => Promise<HttpResponse>;

interface FetchedManifest {
  digest: string;
  kind: 'manifest' | 'index';
  json: unknown;
}

function kindOf(contentType: string | undefined, json: unknown): 'manifest' | 'index' | undefined {
  const declared = contentType?.split(';')[0]?.trim() || (json as { mediaType?: string } | null)?.mediaType;
  if (declared === MEDIA_TYPES.ociManifest || declared === MEDIA_TYPES.dockerManifest) return 'manifest';
  if (declared === MEDIA_TYPES.ociIndex || declared === MEDIA_TYPES.dockerList) return 'index';
  // Some registries serve application/json; the shape then decides.
  if (json && typeof json === 'object') {
    if ('manifests' in json) return 'index';
    if ('layers' in json) return 'manifest';
  }
  return undefined;
}

async function fetchManifest(fetch: ManifestFetcher, tagOrDigest: string, label: string): Promise<FetchedManifest> {
  const response = await fetch(tagOrDigest);
  if (response.statusCode !== 200) {
    throw await responseError(response, label, 'check the repository and tag');
  }
  const bytes = await readSmallBody(response, MAX_MANIFEST_BYTES, `manifest of ${label}`);
  // Our own hash, not Docker-Content-Digest: the bytes are what we trust.
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest) {
    throw new RegistryError('digest-mismatch', `manifest of ${label} has digest ${digest}, not the requested ${tagOrDigest}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError('unsupported', `manifest of ${label} is not JSON`);
  }
  const contentType = response.headers['content-type'];
  const kind = kindOf(Array.isArray(contentType) ? contentType[0] : contentType, json);
  if (!kind) {
    throw new RegistryError('unsupported', `${label} is not an OCI or Docker schema 2 manifest (content type ${String(contentType)}); re-push it with oras`);
  }
  return { digest, kind, json };
}

function parseWith<T>(schema: z.ZodType<T>, json: unknown, label: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RegistryError('unsupported', `manifest of ${label} is malformed (${issue?.path.join('.')}: ${issue?.message})`);
  }
  return parsed.data;
}

function describeLayer(d: Descriptor): string {
  return `${d.annotations?.[TITLE_ANNOTATION] ?? '(no title)'} ${d.mediaType} ${d.digest}`;
}

/** Resolves a reference to its layers: the one file of a single-file (oras-style) artifact, or a container image's stack. */
export async function resolveArtifact(fetch: ManifestFetcher, ref: ImageReference): Promise<ResolvedArtifact> {
  const label = formatReference(ref);
  let fetched = await fetchManifest(fetch, ref.digest ?? ref.tag ?? 'latest', label);
  let entry: Descriptor | undefined;
  if (fetched.kind === 'index') {
    const index = parseWith(ImageIndexSchema, fetched.json, label);
    entry = pickPlatform(index.manifests, label);
    const entryLabel = `${ref.registry}/${ref.repository}@${entry.digest}`;
    fetched = await fetchManifest(fetch, entry.digest, entryLabel);
    if (fetched.kind !== 'manifest') {
      throw new RegistryError('unsupported', `${label}: index entry ${entry.digest} is itself an index; nested indexes are not supported`);
    }
  }
  const manifest = parseWith(ImageManifestSchema, fetched.json, label);
  if (manifest.layers.length === 0 || (manifest.layers.length > 1 && !isLayerStack(manifest.layers))) {
    const layers = manifest.layers.map(describeLayer).join('; ') || 'none';
    throw new RegistryError(
      'unsupported',
      `${label} has ${manifest.layers.length} layers (${layers}); an OS image is a single-file artifact (oras push with one file) or a container image whose layers are all tar layers`,
    );
  }
  for (const layer of manifest.layers) {
    if (!DIGEST_RE.test(layer.digest)) {
      throw new RegistryError('unsupported', `${label}: layer digest ${layer.digest} is not sha256; only sha256 can be verified`);
    }
  }
  const layers = manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, title: l.annotations?.[TITLE_ANNOTATION] }));
  const configMediaType = manifest.config.mediaType;
  return {
    reference: ref,
    manifestDigest: fetched.digest,
    ...(entry ? { platform: platformName(entry.platform) } : {}),
    artifactType: manifest.artifactType ?? (IMAGE_CONFIG_TYPES.has(configMediaType) ? undefined : configMediaType),
    configMediaType,
    config: { digest: manifest.config.digest, size: manifest.config.size, mediaType: configMediaType },
    layer: layers[0]!,
    layers,
  };
}
