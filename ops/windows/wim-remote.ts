// Listing the WIM's images before anything is written: its header and XML sit at known offsets, so a few
// Range requests (KiB) tell whether wim_index exists, what it is, and whether the WIM can be streamed
// (pipable) or must be staged, without downloading GiB.
import { registryClient, resolveArtifact } from '../image-source.ts';
import { RegistryError } from '../oci/client.ts';
import { StepError, type StepContext } from '../runner.ts';
import { formatBytes } from '../sizes.ts';
import { readWimInfo, type ReadRange, type WimImage, type WimInfo } from './wim-header.ts';

/** The only place that knows how the registry client reads part of a blob. */
function blobRanges(ctx: StepContext, resolved: Awaited<ReturnType<typeof resolveArtifact>>['resolved']): ReadRange {
  const client = registryClient(ctx);
  return (start, endInclusive) => client.readBlobRange(resolved, start, endInclusive, { signal: ctx.signal });
}

/** Header + XML of the layer through Range requests; once per run (preflight), kept on the run's artifact for run(). */
export async function inspectWim(ctx: StepContext): Promise<WimInfo> {
  const artifact = await resolveArtifact(ctx);
  if (artifact.wim) return artifact.wim;
  const { layer } = artifact.resolved;
  if (artifact.kind !== undefined && artifact.kind !== 'wim') {
    throw new StepError(
      `${ctx.plan.recipe.oci_url} is a ${artifact.kind} image (${layer.mediaType}), not a Windows WIM`,
      'use task_target install-linux.target for a rootfs image, or point oci_url at an install.wim artifact',
    );
  }
  let info: WimInfo;
  try {
    info = await readWimInfo(blobRanges(ctx, artifact.resolved), { size: layer.size });
  } catch (e) {
    // Registry errors (auth, network, not found) say what to do already; the rest means "not a WIM we can read".
    if (e instanceof StepError || e instanceof RegistryError) throw e;
    throw new StepError(`cannot list the images of ${ctx.plan.recipe.oci_url}: ${(e as Error).message}`, 'is the artifact an install.wim? wiminfo on the file shows what it holds');
  }
  if (info.header.totalParts > 1) {
    throw new StepError(
      `${ctx.plan.recipe.oci_url} is part ${info.header.partNumber} of a split WIM (${info.header.totalParts} parts): wimapply needs every part`,
      'join the parts into one WIM (wimexport install.swm all install.wim --ref="install*.swm") and push that',
    );
  }
  // The header's magic settled the format: record it, so the pull does not guess again from labels and the
  // first bytes (a pipable WIM starts "WLPWM", which the generic format sniffing does not know).
  artifact.kind = 'wim';
  ctx.log(
    `listed ${info.imageCount} image(s) of the ${info.pipable ? 'pipable ' : ''}WIM reading ${info.bytesRead} bytes of ${layer.size} ` +
      `(${formatBytes(info.bytesRead)} of ${formatBytes(layer.size)}) with Range requests`,
  );
  artifact.wim = info;
  return info;
}

export function imageSummary(img: WimImage): string {
  const v = img.version;
  const version = v?.major !== undefined ? `${v.major}.${v.minor ?? 0}.${v.build ?? 0}` : undefined;
  const facts = [img.editionId && `edition ${img.editionId}`, img.flags && img.flags !== img.editionId && `flags ${img.flags}`, img.arch, version, img.displayName]
    .filter(Boolean)
    .join(', ');
  return `image ${img.index} "${img.name ?? '(no name)'}"${facts ? ` (${facts})` : ''}`;
}

/** The recipe's wim_index, or a refusal that lists what the WIM does hold. */
export function chooseImage(info: WimInfo, index: number, ref: string): WimImage {
  const img = info.images.find((i) => i.index === index);
  if (img) return img;
  const list = info.images.map((i) => `${i.index}: ${i.name ?? '(no name)'}${i.editionId ? ` [${i.editionId}]` : ''}`).join('; ');
  throw new StepError(`wim_index ${index} is not in ${ref}: the WIM holds ${info.imageCount} image(s) (${list})`, 'set wim_index in the recipe to one of those indexes');
}
