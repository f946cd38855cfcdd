// bootloader-linux.service: the target's own GRUB installed for UEFI from a chroot, its grub.cfg naming the root
// by UUID, and a firmware boot entry where the machine has efivars.
import { addKernelArgs, bootloaderId, checkEsp, efibootmgrCommand, grubFlavour, grubInstallCommands, pinGrubCfg, removeOldEntries } from '../linux/grub.ts';
import { bindSystemDirs, mountTarget } from '../linux/mounts.ts';
import { readOsRelease } from '../linux/os-release.ts';
import type { PlannedPartition } from '../plan.ts';
import { isWindows } from '../recipe.ts';
import type { Step } from './step.ts';

export const bootloaderLinuxStep: Step<'bootloader-linux.service'> = {
  name: 'bootloader-linux.service',
  title: 'Install GRUB for UEFI',
  wanted: (recipe) => !isWindows(recipe),
  /** UEFI GRUB needs the ESP as vfat at /boot/efi. */
  layoutProblems(partitions: PlannedPartition[]) {
    const esp = partitions.find((p) => p.role === 'esp');
    if (!esp) return ['no EFI system partition (type ef00, vfat): UEFI GRUB needs one'];
    if (esp.format !== 'vfat') return [`the EFI system partition (${esp.number}) must be vfat, not ${esp.format}`];
    if (esp.mountpoint !== '/boot/efi') return [`the EFI system partition (${esp.number}) must be mounted at /boot/efi for GRUB`];
    return [];
  },
  resumable: true,
  async run(ctx) {
    const root = await mountTarget(ctx);
    const rootPart = ctx.plan.partitions.find((p) => p.mountpoint === '/')!;
    const rootUuid = ctx.state.fsUuids[rootPart.number]!;
    const id = bootloaderId(await readOsRelease(root));
    const grub = await grubFlavour(root);
    await addKernelArgs(root, ctx.plan.recipe.kernel_args, ctx.log);
    await bindSystemDirs(ctx, root, ctx.plan.machine.efivars);
    for (const cmd of grubInstallCommands(root, grub.install, id)) await ctx.exec(cmd);
    await ctx.exec(['chroot', root, grub.mkconfig, '-o', grub.cfg]);
    await pinGrubCfg(root, grub.cfg, rootUuid, ctx.log);
    await checkEsp(root, id);
    if (!ctx.plan.machine.efivars) {
      ctx.log('no efivars: no firmware boot entry written; the firmware will boot EFI/BOOT/BOOTX64.EFI', 'warn');
      return;
    }
    await removeOldEntries(ctx, id);
    await ctx.exec(efibootmgrCommand(ctx.plan, ctx.state.device!, id));
  },
};
