import { existsInRoot, readFileInRoot, writeFileInRoot } from '../in-root.ts';
import type { Plan } from '../plan.ts';
import { StepError, type StepContext } from '../runner.ts';

type Log = StepContext['log'];

/** Debian and Ubuntu ship `grub-*`, Fedora and EL `grub2-*`; the target's own tools match its modules. */
export async function grubFlavour(root: string): Promise<{ install: string; mkconfig: string; cfg: string }> {
  for (const bin of ['/usr/sbin', '/usr/bin', '/sbin']) {
    if (await existsInRoot(root, `${bin}/grub-install`)) return { install: 'grub-install', mkconfig: 'grub-mkconfig', cfg: '/boot/grub/grub.cfg' };
    if (await existsInRoot(root, `${bin}/grub2-install`)) return { install: 'grub2-install', mkconfig: 'grub2-mkconfig', cfg: '/boot/grub2/grub.cfg' };
  }
  throw new StepError(
    'the installed image has no grub-install or grub2-install',
    'build the rootfs image with GRUB for UEFI (Debian: grub-efi-amd64; Fedora/EL: grub2-efi-x64 and grub2-tools)',
  );
}

/** The loader directory name under EFI/, from os-release (`debian`, `ubuntu`, `rocky`...). */
export function bootloaderId(osRelease: Record<string, string>): string {
  return (osRelease.ID ?? 'linux').toLowerCase().replace(/[^a-z0-9._-]/g, '') || 'linux';
}

export function grubInstallCommands(root: string, install: string, id: string): string[][] {
  const base = ['chroot', root, install, '--target=x86_64-efi', '--efi-directory=/boot/efi', '--no-nvram'];
  return [
    [...base, `--bootloader-id=${id}`],
    [...base, '--removable'],
  ];
}

/**
 * Without udev, grub-mkconfig cannot see /dev/disk/by-uuid and writes `root=/dev/loop0p2`: name the root by
 * UUID instead, then insist every kernel line does.
 */
export function pinRootByUuid(cfg: string, rootUuid: string): string {
  const fixed = cfg.replace(/(\slinux\S*\s+\S+.*?\sroot=)(\S+)/g, (_m, head: string) => `${head}UUID=${rootUuid}`);
  const kernelLines = fixed.split('\n').filter((l) => /^\s*linux(efi)?\s/.test(l));
  if (kernelLines.length === 0) throw new StepError('grub.cfg has no kernel entry', 'does the image contain a kernel under /boot?');
  const bad = kernelLines.filter((l) => !l.includes(`root=UUID=${rootUuid}`));
  if (bad.length) throw new StepError(`grub.cfg does not name the root filesystem by UUID: ${bad[0]!.trim()}`);
  return fixed;
}

const GRUB_DEFAULTS = 'etc/default/grub';

export async function addKernelArgs(root: string, args: string | undefined, log: Log): Promise<void> {
  if (!args?.trim()) return;
  const old = await readFileInRoot(root, GRUB_DEFAULTS).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return Buffer.alloc(0);
    throw e;
  });
  // The recipe schema admits no quote, `$` or line break here, so the line is inert as shell.
  const line = `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ${args.trim()}"  # added by shoal-install\n`;
  await writeFileInRoot(root, GRUB_DEFAULTS, Buffer.concat([old, Buffer.from(`\n${line}`)]), { log });
}

/** grub-mkconfig's output, read and rewritten within the target, with the root named by UUID. */
export async function pinGrubCfg(root: string, cfg: string, rootUuid: string, log: Log): Promise<void> {
  await writeFileInRoot(root, cfg, pinRootByUuid(String(await readFileInRoot(root, cfg)), rootUuid), { log });
}

export function efibootmgrCommand(plan: Plan, device: string, id: string): string[] {
  const esp = plan.partitions.find((p) => p.role === 'esp')!;
  return ['efibootmgr', '--create', '--disk', device, '--part', String(esp.number), '--label', id, '--loader', `\\EFI\\${id}\\grubx64.efi`];
}

/** Delete the firmware boot entries labelled `label`: an earlier install's, which the new one replaces. */
export async function removeOldEntries(ctx: StepContext, label: string): Promise<void> {
  const { stdout } = await ctx.exec(['efibootmgr']);
  for (const m of stdout.matchAll(/^Boot([0-9A-Fa-f]{4})\*?\s+(.*?)(\t|\s{2,}|$)/gm)) {
    if (m[2]?.trim() === label) await ctx.exec(['efibootmgr', '--quiet', '--bootnum', m[1]!, '--delete-bootnum']);
  }
}

export async function checkEsp(root: string, id: string): Promise<void> {
  for (const f of [`boot/efi/EFI/${id}/grubx64.efi`, 'boot/efi/EFI/BOOT/BOOTX64.EFI']) {
    if (!(await existsInRoot(root, f))) throw new StepError(`the ESP does not hold /${f} after grub-install`, 'see the grub-install output in the log');
  }
}
