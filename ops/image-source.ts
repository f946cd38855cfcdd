import type { Readable } from 'node:stream';
import type { BlobServed } from './oci/blob.ts';
import { DEFAULT_LOW_SPEED, RegistryClient, type RegistryClientOptions, type ResolvedArtifact } from './oci/client.ts';
import { detectFormat, formatFromMetadata, peek, type ImageFormat } from './oci/format.ts';
import type { RegistryOptions } from './recipe.ts';
import type { StepContext } from './runner.ts';
import type { WimInfo } from './windows/wim-header.ts';
import { formatBytes } from './sizes.ts';

export interface ImageArtifact {
  resolved: ResolvedArtifact;
  /** From the media type or file name; undefined until the first bytes are seen. */
  kind?: ImageFormat;
  /** A WIM's header and image list, once read (ops/windows/wim-remote.ts). */
  wim?: WimInfo;
}

/**
 * What one run of an install knows of its image, on the run's state: the runner opens it when the run starts and
 * closes it when the run ends, however it ends.
 */
export class ImageSession {
  /**
   * The manifest and its one layer, resolved once (preflight) and reused by the pull. A retry starts with the
   * earlier attempt's: the steps it takes as done installed that manifest, whatever the tag names now.
   */
  constructor(public artifact?: ImageArtifact) {}

  /** One client per step, so connections and tokens are reused and its log lines name the step. */
  readonly clients = new Map<string, RegistryClient>();
  /** Every blob pulled whole, with the sources that served it (mirror or origin): the result's run record. */
  blobs?: BlobServed[];

  /** The manifest digest this run installs, once resolved: the result and the report carry it. */
  get digest(): string | undefined {
    return this.artifact?.resolved.manifestDigest;
  }

  async close(): Promise<void> {
    const open = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(open.map((c) => c.close()));
  }
}

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

/** The step's registry client in this run's image session. */
export function registryClient(ctx: StepContext): RegistryClient {
  const perStep = ctx.state.image.clients;
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
    onBlobServed: (served) => (ctx.state.image.blobs ??= []).push(served),
    ...patienceOf(reg),
  });
  perStep.set(ctx.step, client);
  return client;
}

async function resolveNow(ctx: StepContext): Promise<ImageArtifact> {
  const resolved = await registryClient(ctx).resolve(ctx.plan.image!);
  return { resolved, kind: formatFromMetadata(resolved.layer) };
}

/** The manifest and its one layer, fetched once per run (preflight) and reused by the pull. */
export async function resolveArtifact(ctx: StepContext): Promise<ImageArtifact> {
  ctx.state.image.artifact ??= await resolveNow(ctx);
  return ctx.state.image.artifact;
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
