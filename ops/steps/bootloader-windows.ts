// bootloader-windows.service: what bcdboot does, from Linux. The boot files come from the applied image, the
// BCD store is generated for this disk's GUIDs, the ESP is written with mtools, and the firmware entry is last.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandExists, commandLine } from '../exec.ts';
import { partitionDevice } from '../disks.ts';
import type { Plan, PlannedPartition } from '../plan.ts';
import { isWindows } from '../recipe.ts';
import { runTempDir } from '../run-dir.ts';
import { StepError, type StepContext } from '../runner.ts';
import { bcdStoreTree } from '../windows/bcd.ts';
import { BOOT_EFI_DIR, BOOT_FONTS_DIR, BOOT_RESOURCES_DIR, BOOTMGFW, locateBootFiles } from '../windows/boot-files.ts';
import { efibootmgrCommand, writeFirmwareEntry } from '../windows/efi-entry.ts';
import { checkEsp, espCommands, MTOOLS_ENV } from '../windows/esp.ts';
import { checkGptGuids } from '../windows/gpt-check.ts';
import { mountNtfs, WINDOWS_MOUNT_SHOWN } from '../windows/ntfs-volume.ts';
import { buildHive } from '../windows/regf.ts';
import type { Step } from './step.ts';

const BCD_TMP_SHOWN = '/run/shoal-install/bcd-XXXX/BCD';

function layout(plan: Plan): { esp: PlannedPartition; windows: PlannedPartition } {
  // makePlan refuses a Windows layout without both.
  return { esp: plan.partitions.find((p) => p.role === 'esp')!, windows: plan.partitions.find((p) => p.role === 'windows')! };
}

function bcdLine(plan: Plan): string {
  const { esp, windows } = layout(plan);
  return `BCD store: boot manager on partition ${esp.number} (GUID ${esp.partGuid}), Windows loader on partition ${windows.number} (GUID ${windows.partGuid}), disk GUID ${plan.diskGuid}`;
}

async function writeBcd(ctx: StepContext): Promise<string> {
  const { esp, windows } = layout(ctx.plan);
  const { tree, loaderGuid } = bcdStoreTree({ diskGuid: ctx.plan.diskGuid, espPartitionGuid: esp.partGuid, windowsPartitionGuid: windows.partGuid });
  const dir = await runTempDir('bcd-');
  ctx.defer(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'BCD');
  await writeFile(file, buildHive(tree));
  ctx.log(`${bcdLine(ctx.plan)}; loader object {${loaderGuid}}`);
  return file;
}

export const bootloaderWindowsStep: Step<'bootloader-windows.service'> = {
  name: 'bootloader-windows.service',
  title: 'Write the Windows boot files and BCD store',
  wanted: isWindows,
  resumable: true,
  describe(plan, device) {
    const { esp, windows } = layout(plan);
    const root = WINDOWS_MOUNT_SHOWN;
    const shown = (rel: string) => [`${root}/${rel}/*`];
    const cmds = espCommands(
      partitionDevice(device, esp.number),
      { efi: shown(BOOT_EFI_DIR), fonts: shown(BOOT_FONTS_DIR), resources: shown(BOOT_RESOURCES_DIR), bootmgfw: `${root}/${BOOTMGFW}` },
      BCD_TMP_SHOWN,
    );
    return [
      `read the boot files from ${partitionDevice(device, windows.number)} (mounted by ntfs-3g at ${root}; names matched case-insensitively; Fonts and Resources only if present)`,
      `${bcdLine(plan)} -> ${BCD_TMP_SHOWN}`,
      ...cmds.map((c) => commandLine(c)),
      plan.machine.efivars ? commandLine(efibootmgrCommand(device, esp.number)) : 'no efivars: no firmware boot entry (warning); the firmware boots EFI/Boot/bootx64.efi',
    ];
  },
  async preflight(ctx) {
    const tools = ['mmd', 'mcopy', 'mdir', 'ntfs-3g', 'sgdisk', ...(ctx.plan.machine.efivars ? ['efibootmgr'] : [])];
    const missing = (await Promise.all(tools.map(async (t) => ((await commandExists(t)) ? undefined : t)))).filter(Boolean);
    if (missing.length)
      throw new StepError(`${missing.join(', ')} not found: the Windows boot files cannot be written`, 'the maintenance OS needs mtools, ntfs-3g, gdisk and efibootmgr');
  },
  async run(ctx) {
    const device = ctx.state.device!;
    const { esp, windows } = layout(ctx.plan);
    const espDev = ctx.state.partitionDevices[esp.number]!;
    const root = ctx.state.windowsMount ?? (await mountNtfs(ctx, ctx.state.partitionDevices[windows.number]!, true));
    const sources = await locateBootFiles(root);
    await checkGptGuids(ctx, device, [esp, windows]);
    const bcd = await writeBcd(ctx);
    for (const cmd of espCommands(espDev, sources, bcd)) await ctx.exec(cmd, { env: MTOOLS_ENV });
    await checkEsp(ctx, espDev);
    if (!ctx.plan.machine.efivars) {
      ctx.log('no efivars here: no firmware boot entry written; the firmware will boot EFI/Boot/bootx64.efi from the ESP', 'warn');
      return;
    }
    await writeFirmwareEntry(ctx, device, esp.number);
  },
};
