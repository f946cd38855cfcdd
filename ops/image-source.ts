import type { Readable } from 'node:stream';
import { DEFAULT_LOW_SPEED, RegistryClient, type RegistryClientOptions, type ResolvedArtifact } from './oci/client.ts';
import { detectFormat, formatFromMetadata, peek, type ImageFormat } from './oci/format.ts';
import type { RegistryOptions } from './recipe.ts';
import type { StepContext } from './runner.ts';
import { formatBytes } from './sizes.ts';

export interface ImageArtifact {
  resolved: ResolvedArtifact;
  /** From the media type or file name; undefined until the first bytes are seen. */
  kind?: ImageFormat;
}

const resolvedByPlan = new WeakMap<object, ImageArtifact>();

const clients = new WeakMap<object, Map<string, RegistryClient>>();

/** The recipe's `registry` patience fields (kernel arguments already folded in) as client options; unset ones keep the defaults. */
export function patienceOf(reg: Omit<RegistryOptions, 'password'> | undefined): Pick<RegistryClientOptions, 'retry' | 'lowSpeed'> {
  return {
    retry: JSON.parse(JSON.stringify({ attempts: reg?.retries, busyPatienceMs: reg?.busy_patience === undefined ? undefined : reg.busy_patience * 1000 })),
    lowSpeed: {
      bytesPerSecond: reg?.low_speed_limit === undefined ? DEFAULT_LOW_SPEED.bytesPerSecond : reg.low_speed_limit * 1024,
      seconds: reg?.low_speed_time ?? DEFAULT_LOW_SPEED.seconds,
    },
  };
}

/** One client per step of an install, so connections and tokens are reused and its log lines name the step. */
export function registryClient(ctx: StepContext): RegistryClient {
  const perStep = clients.get(ctx.plan) ?? new Map<string, RegistryClient>();
  clients.set(ctx.plan, perStep);
  const existing = perStep.get(ctx.step);
  if (existing) return existing;
  const reg = ctx.plan.recipe.registry;
  const client = new RegistryClient({
    plainHttp: ctx.inputs.plainHttp,
    caFile: reg?.ca_file,
    username: reg?.username,
    password: ctx.inputs.registryPassword,
    log: (line, level) => ctx.log(line, level),
    mirrors: reg?.mirrors,
    onBlobServed: (served) => (ctx.state.blobs ??= []).push(served),
    ...patienceOf(reg),
  });
  perStep.set(ctx.step, client);
  ctx.defer('close the registry connections', async () => {
    perStep.delete(ctx.step);
    await client.close();
  });
  return client;
}

async function resolveNow(ctx: StepContext): Promise<ImageArtifact> {
  const resolved = await registryClient(ctx).resolve(ctx.plan.image!);
  return { resolved, kind: formatFromMetadata(resolved.layer) };
}

/** The manifest and its one layer, fetched once per install (preflight) and reused by the pull. */
export async function resolveArtifact(ctx: StepContext): Promise<ImageArtifact> {
  const artifact = resolvedByPlan.get(ctx.plan) ?? (await resolveNow(ctx));
  resolvedByPlan.set(ctx.plan, artifact);
  ctx.state.imageDigest = artifact.resolved.manifestDigest;
  return artifact;
}

export function artifactDescription(a: ImageArtifact): string {
  const l = a.resolved.layer;
  return `image ${a.resolved.manifestDigest}: layer ${l.digest} ${formatBytes(l.size)} ${l.mediaType}${l.title ? ` "${l.title}"` : ''}`;
}

/** The layer as a verified stream with progress, and its format (the first bytes decide when metadata did not). */
export async function openArtifact(ctx: StepContext): Promise<{ stream: Readable; format: ImageFormat; size: number }> {
  const artifact = await resolveArtifact(ctx);
  const { layer } = artifact.resolved;
  const meter = ctx.meter(layer.size);
  const blob = registryClient(ctx).openBlob(artifact.resolved, { signal: ctx.signal, onProgress: (bytes) => meter.update(bytes) });
  const { head, stream } = await peek(blob, 512);
  return { stream, format: artifact.kind ?? detectFormat(layer, head), size: layer.size };
}
