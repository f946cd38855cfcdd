// Writing the ESP without mounting it: this kernel (and some maintenance kernels) cannot mount vfat, and
// mtools reads and writes FAT from user space (docs/windows.md). The ESP was just formatted, so every
// directory is made fresh; files are copied into existing directories (mcopy renames a lone directory
// source when the target does not exist, and nests it when it does: entries avoid both surprises).
import type { StepContext } from '../runner.ts';
import { StepError } from '../runner.ts';
import type { BootSources } from './boot-files.ts';

export const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };
const MS_BOOT = '::/EFI/Microsoft/Boot';

/** Every mtools command, in order: the boot manager's tree, the BCD store, then the fallback loader. */
export function espCommands(esp: string, src: BootSources, bcdFile: string): string[][] {
  const dirs = ['::/EFI', '::/EFI/Microsoft', MS_BOOT, ...(src.fonts ? [`${MS_BOOT}/Fonts`] : []), ...(src.resources ? [`${MS_BOOT}/Resources`] : []), '::/EFI/Boot'];
  const copy = (from: string[], to: string) => (from.length ? [['mcopy', '-s', '-o', '-Q', '-i', esp, ...from, `${to}/`]] : []);
  return [
    ['mmd', '-i', esp, ...dirs],
    ...copy(src.efi, MS_BOOT),
    ...copy(src.fonts ?? [], `${MS_BOOT}/Fonts`),
    ...copy(src.resources ?? [], `${MS_BOOT}/Resources`),
    ['mcopy', '-o', '-i', esp, bcdFile, `${MS_BOOT}/BCD`],
    ['mcopy', '-o', '-i', esp, src.bootmgfw, '::/EFI/Boot/bootx64.efi'],
  ];
}

/** What must be on the ESP for the firmware to start Windows (by NVRAM entry, or by the removable-media path). */
export const ESP_REQUIRED = ['EFI/Microsoft/Boot/bootmgfw.efi', 'EFI/Microsoft/Boot/BCD', 'EFI/Boot/bootx64.efi'];

/** Read the ESP back with `mdir` and insist on ESP_REQUIRED (FAT is case-insensitive, so is the check). */
export async function checkEsp(ctx: StepContext, esp: string): Promise<void> {
  const { stdout } = await ctx.exec(['mdir', '-/', '-b', '-i', esp, '::/EFI'], { env: MTOOLS_ENV });
  const have = new Set(stdout.split('\n').map((l) => l.trim().replace(/^::\//, '').toLowerCase()));
  const missing = ESP_REQUIRED.filter((f) => !have.has(f.toLowerCase()));
  if (missing.length) throw new StepError(`the ESP ${esp} lacks ${missing.join(', ')} after copying`, 'see the mcopy output in the log; is the ESP full?');
}
