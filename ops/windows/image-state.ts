// Is the applied image generalized (sysprep /generalize /oobe)? Only then does Windows run the specialize and
// oobeSystem passes that read unattend.xml on first boot; a captured, non-generalized system boots as the
// machine it was captured from. Readable offline: the SOFTWARE hive, else Windows/Setup/State/State.ini.
import { lstat } from 'node:fs/promises';
import { inImage, readFileInRoot } from '../in-root.ts';
import type { StepContext } from '../runner.ts';
import { findPath } from './ci-path.ts';

export const GENERALIZED_STATE = 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE';
export const SOFTWARE_HIVE = 'Windows/System32/config/SOFTWARE';
export const STATE_KEY = 'Microsoft\\Windows\\CurrentVersion\\Setup\\State';
export const STATE_INI = 'Windows/Setup/State/State.ini';

export const hivexgetCommand = (hive: string) => ['hivexget', hive, STATE_KEY, 'ImageState'];

/** `ImageState=...` from State.ini (UTF-16 with a BOM, or 8-bit). */
export function parseStateIni(bytes: Buffer): string | undefined {
  const text = bytes[0] === 0xff && bytes[1] === 0xfe ? bytes.subarray(2).toString('utf16le') : bytes.toString('latin1');
  return /^\s*ImageState\s*=\s*(\S+)\s*$/im.exec(text)?.[1];
}

export interface ImageState {
  state?: string;
  source: string;
}

export async function readImageState(ctx: StepContext, root: string): Promise<ImageState> {
  const hive = await findPath(root, SOFTWARE_HIVE);
  if (hive && (await lstat(hive)).isFile()) {
    const value = await ctx.exec(hivexgetCommand(hive)).then(
      (r) => r.stdout.trim(),
      () => '',
    );
    if (value) return { state: value, source: SOFTWARE_HIVE };
  }
  const ini = await findPath(root, STATE_INI);
  const fromIni = ini ? parseStateIni(await readFileInRoot(root, inImage(root, ini))) : undefined;
  if (fromIni) return { state: fromIni, source: STATE_INI };
  return { source: `${SOFTWARE_HIVE} and ${STATE_INI}` };
}

/** Log the state; a warning (not a failure) when the image is not generalized: the operator may mean it. */
export async function checkGeneralized(ctx: StepContext, root: string): Promise<void> {
  const { state, source } = await readImageState(ctx, root);
  if (state === GENERALIZED_STATE) return ctx.log(`the image is generalized (${state}, from ${source})`);
  const what = state ? `its image state is ${state} (from ${source})` : `its image state could not be read (${source})`;
  ctx.log(
    `the image does not look generalized: ${what}. Windows reads unattend.xml in the specialize and oobeSystem passes, ` +
      `which only run after "sysprep /generalize /oobe"; capture the image after sysprep`,
    'warn',
  );
}
