// The answer file goes to %WINDIR%\Panther\unattend.xml, the first place Windows looks on first boot
// (docs/windows.md, "Unattend"). It holds secrets (administrator password, domain join): its content is never
// logged, only its size and a sha256 prefix to tell versions apart.
import { createHash } from 'node:crypto';
import { inImage, mkdirInRoot, writeFileInRoot } from '../in-root.ts';
import { StepError, type StepContext } from '../runner.ts';
import { findEntry, findPath } from './ci-path.ts';

export const UNATTEND_PATH = 'Windows/Panther/unattend.xml';

export const fingerprint = (bytes: Buffer) => `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;

/** Write `xml` to Windows/Panther/unattend.xml on the mounted volume, reusing existing directories in any case. */
export async function placeUnattend(ctx: StepContext, root: string, xml: Buffer): Promise<string> {
  const windows = await findPath(root, 'Windows');
  if (!windows) throw new StepError('the applied image has no Windows directory', 'is this an install.wim of Windows (image index right)?');
  const panther = await mkdirInRoot(root, `${inImage(root, windows)}/${(await findEntry(windows, 'Panther')) ?? 'Panther'}`);
  const file = await writeFileInRoot(root, `${inImage(root, panther)}/${(await findEntry(panther, 'unattend.xml')) ?? 'unattend.xml'}`, xml, { mode: 0o600, log: ctx.log });
  const rel = inImage(root, file).slice(1);
  ctx.log(`unattend.xml: ${fingerprint(xml)} -> ${rel}`);
  return rel;
}
