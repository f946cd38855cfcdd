// Running wimapply in NTFS-3G mode (the target is the unmounted block device; docs/windows.md, "Apply") and
// turning its "\r" progress lines into progress events: the apply of a staged WIM is otherwise a long silence.
import type { Readable } from 'node:stream';
import type { ProgressMeter } from '../progress.ts';
import type { StepContext } from '../runner.ts';
import { feedThenDrain, type FeedResult } from './feed.ts';
import { WimApplyProgressParser, type WimApplyEvent, type WimApplyPhase } from './wimapply-progress.ts';

/** `source` is a WIM file, or `-` for a pipable WIM on stdin. */
export const wimapplyCommand = (source: string, index: number, device: string) => ['wimapply', source, String(index), device];

const PHASE: Record<WimApplyPhase, { phase: string; unit: 'bytes' | 'files' }> = {
  'creating-files': { phase: 'apply: creating files', unit: 'files' },
  'extracting-data': { phase: 'apply', unit: 'bytes' },
  'applying-metadata': { phase: 'apply: metadata', unit: 'files' },
};

/** Routes parsed wimapply output to one meter per phase, and the rest to the log. */
export function progressRouter(ctx: StepContext): (e: WimApplyEvent) => void {
  const meters = new Map<WimApplyPhase, ProgressMeter>();
  return (e) => {
    if (e.phase === 'start') return ctx.log(`wimapply: applying image ${e.image} ("${e.imageName}") to the ${e.targetKind === 'ntfs' ? 'NTFS volume' : 'directory'} ${e.target}`);
    if (e.phase === 'done') return ctx.log('wimapply: done applying the image');
    if (e.phase === 'message') return ctx.log(`wimapply: ${e.line}`);
    const bytes = e.phase === 'extracting-data';
    const total = bytes ? e.totalBytes! : e.total;
    let meter = meters.get(e.phase);
    if (!meter || meter.total !== total) meters.set(e.phase, (meter = ctx.meter(total, PHASE[e.phase])));
    meter.update(bytes ? e.doneBytes! : e.done);
  };
}

function logWarnings(ctx: StepContext, stderr: string): void {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const l of lines.slice(0, 20)) ctx.log(`wimapply: ${l}`, 'warn');
  if (lines.length > 20) ctx.log(`wimapply: ${lines.length - 20} more warning lines`, 'warn');
}

const isPrematureClose = (e: unknown) => ['ERR_STREAM_PREMATURE_CLOSE', 'ABORT_ERR'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/**
 * Run wimapply; with `input`, feed it the pipable WIM and keep reading after it is done so the blob's digest is
 * still checked. Which failure is reported: a download/digest error first (it explains a killed wimapply),
 * else wimapply's own error (it explains a download we cut short).
 */
export async function runWimapply(ctx: StepContext, argv: string[], input?: Readable): Promise<FeedResult | undefined> {
  const { child, done } = ctx.spawn(argv, { stdinPipe: input !== undefined });
  const parser = new WimApplyProgressParser();
  const route = progressRouter(ctx);
  child.stdout?.on('data', (chunk: Buffer) => parser.push(chunk).forEach(route));
  let feedError: unknown;
  let applyError: unknown;
  let fed: FeedResult | undefined;
  const feeding = input
    ? feedThenDrain(input, child.stdin!).then(
        (r) => void (fed = r),
        (e) => {
          feedError = e;
          child.kill();
        },
      )
    : Promise.resolve();
  const applying = done.then(
    (r) => logWarnings(ctx, r.stderr),
    (e) => {
      applyError = e;
      input?.destroy();
    },
  );
  await Promise.all([feeding, applying]);
  parser.end().forEach(route);
  if (feedError && !isPrematureClose(feedError)) throw feedError;
  if (applyError) throw applyError;
  if (feedError) throw feedError;
  return fed;
}
