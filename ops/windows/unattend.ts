// The answer file goes to %WINDIR%\Panther\unattend.xml, the first place Windows looks on first boot
// (WINDOWS.md, "Unattend"). It holds secrets (administrator password, domain join): its content is never
// logged, only its size and a sha256 prefix to tell versions apart.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StepError, type StepContext } from '../runner.ts';
import { findEntry, findPath } from './ci-path.ts';

export const UNATTEND_PATH = 'Windows/Panther/unattend.xml';

export const fingerprint = (bytes: Buffer) => `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;

/** Write `xml` to Windows/Panther/unattend.xml on the mounted volume, reusing existing directories in any case. */
export async function placeUnattend(ctx: StepContext, root: string, xml: Buffer): Promise<string> {
  const windows = await findPath(root, 'Windows');
  if (!windows) throw new StepError('the applied image has no Windows directory', 'is this an install.wim of Windows (image index right)?');
  const panther = join(windows, (await findEntry(windows, 'Panther')) ?? 'Panther');
  await mkdir(panther, { recursive: true });
  const file = join(panther, (await findEntry(panther, 'unattend.xml')) ?? 'unattend.xml');
  await writeFile(file, xml, { mode: 0o600 });
  const rel = file.slice(root.length + 1);
  ctx.log(`unattend.xml: ${fingerprint(xml)} -> ${rel}`);
  return rel;
}
