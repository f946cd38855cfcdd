// image-windows.service: the WIM onto the NTFS partition, then unattend.xml and a look at the image state.
// A pipable WIM streams from the registry straight into wimapply; any other is staged to a file first
// (wimapply needs to seek). Both ways the blob's sha256 is checked over every byte.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { partitionDevice } from '../disks.ts';
import { commandExists, commandLine } from '../exec.ts';
import { openArtifact, resolveArtifact } from '../image-source.ts';
import type { Plan } from '../plan.ts';
import { isWindows } from '../recipe.ts';
import { StepError, type StepContext } from '../runner.ts';
import { formatBytes } from '../sizes.ts';
import { checkGeneralized, hivexgetCommand, SOFTWARE_HIVE } from '../windows/image-state.ts';
import { assertNotMounted, mountNtfs, ntfsMountCommand, WINDOWS_MOUNT_SHOWN } from '../windows/ntfs-volume.ts';
import { chooseStaging, STAGING_DEFAULTS, STAGING_ENV, stagingLine, stagingMargin } from '../windows/staging.ts';
import { placeUnattend, UNATTEND_PATH } from '../windows/unattend.ts';
import { chooseImage, imageSummary, inspectWim } from '../windows/wim-remote.ts';
import { runWimapply, wimapplyCommand } from '../windows/wimapply.ts';
import type { Step } from './step.ts';

const windowsPartition = (plan: Plan) => plan.partitions.find((p) => p.role === 'windows')!;

async function streamed(ctx: StepContext, index: number, device: string): Promise<void> {
  const { stream, size } = await openArtifact(ctx);
  ctx.log(`the WIM is pipable: streaming it from the registry into wimapply (${formatBytes(size)}, no staging)`);
  const fed = await runWimapply(ctx, wimapplyCommand('-', index, device), stream);
  if (fed?.drained) ctx.log(`wimapply needed the first ${formatBytes(fed.fed)}; read the last ${formatBytes(fed.drained)} only to check the blob's sha256`);
}

async function staged(ctx: StepContext, index: number, device: string, size: number): Promise<void> {
  const area = await chooseStaging(size); // again: the space may have gone since preflight
  ctx.log(stagingLine(area, size));
  const dir = await mkdtemp(join(area.dir, 'shoal-wim-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  ctx.defer(`remove ${dir}`, remove);
  const file = join(dir, 'install.wim');
  const { stream } = await openArtifact(ctx);
  await pipeline(stream, createWriteStream(file, { mode: 0o600 })); // rejects on a digest mismatch
  ctx.log(`staged and verified ${file}; applying it`);
  await runWimapply(ctx, wimapplyCommand(file, index, device));
  await remove(); // free the space (RAM, on tmpfs) before the rest of the install
}

export const imageWindowsStep: Step<'image-windows.service'> = {
  name: 'image-windows.service',
  title: 'Apply the Windows image',
  wanted: isWindows,
  resumable: false,
  describe(plan, device) {
    const dev = partitionDevice(device, windowsPartition(plan).number);
    const index = plan.recipe.wim_index;
    const stagingDir = process.env[STAGING_ENV]?.trim() || `the roomier of ${STAGING_DEFAULTS.join(' and ')} (or ${STAGING_ENV})`;
    return [
      `GET ${plan.recipe.oci_url}: the manifest, then the WIM's header and XML by Range requests: image ${index} must exist (checked before anything is written)`,
      `check that ${dev} is not mounted or in use (wimapply writes the raw volume, NTFS-3G mode)`,
      `if the WIM is pipable: GET layer (sha256 checked as it streams) | ${commandLine(wimapplyCommand('-', index, dev))}`,
      `otherwise: GET layer > ${stagingDir}/shoal-wim-XXXX/install.wim (needs the layer size + ${formatBytes(stagingMargin(0))} + 1% free; refused before partitioning if not), then ${commandLine(wimapplyCommand('<that file>', index, dev))}`,
      commandLine(ntfsMountCommand(dev, WINDOWS_MOUNT_SHOWN, false)),
      plan.recipe.unattend_xml !== undefined
        ? `write ${UNATTEND_PATH} (from unattend_xml; only its size and sha256 are logged)`
        : 'no unattend_xml: Windows will ask its questions at first boot',
      `${commandLine(hivexgetCommand(`${WINDOWS_MOUNT_SHOWN}/${SOFTWARE_HIVE}`))} (warn unless the image is generalized)`,
    ];
  },
  /** A retry after this step reports the same image. */
  async reattach(ctx) {
    await resolveArtifact(ctx);
  },
  async preflight(ctx) {
    for (const tool of ['wimapply', 'ntfs-3g']) {
      if (!(await commandExists(tool))) throw new StepError(`${tool} not found: a Windows image cannot be applied`, 'the maintenance OS needs wimtools and ntfs-3g');
    }
    const info = await inspectWim(ctx);
    const image = chooseImage(info, ctx.plan.recipe.wim_index, ctx.plan.recipe.oci_url!);
    ctx.log(`will apply ${imageSummary(image)} of ${info.imageCount}`);
    // The ESP fallback loader is written as bootx64.efi: right for x86_64 images only.
    if (image.arch && image.arch !== 'x86_64') ctx.log(`image ${image.index} is for ${image.arch}, not x86_64: this installer writes the x64 boot layout`, 'warn');
    if (!info.pipable) {
      const size = (await resolveArtifact(ctx)).resolved.layer.size;
      ctx.log(stagingLine(await chooseStaging(size), size));
    }
  },
  async run(ctx) {
    const part = windowsPartition(ctx.plan);
    const device = ctx.state.partitionDevices[part.number]!;
    const info = await inspectWim(ctx);
    const index = ctx.plan.recipe.wim_index;
    await assertNotMounted(device);
    if (info.pipable) await streamed(ctx, index, device);
    else await staged(ctx, index, device, (await resolveArtifact(ctx)).resolved.layer.size);
    const root = await mountNtfs(ctx, device, false);
    ctx.state.windowsMount = root;
    if (ctx.inputs.unattendXml) await placeUnattend(ctx, root, ctx.inputs.unattendXml);
    else ctx.log('no unattend_xml in the recipe: Windows will ask its setup questions at first boot');
    await checkGeneralized(ctx, root);
  },
};
