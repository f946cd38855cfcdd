import type { EventSink, InstallEvent } from '../events.ts';
import { formatBytes } from '../sizes.ts';

export const formatRate = (bytesPerSecond: number) => `${formatBytes(bytesPerSecond)}/s`;

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function progressLine(e: Extract<InstallEvent, { type: 'progress' }>): string {
  const pct = e.total ? ` ${Math.floor((100 * e.bytes) / e.total)}%` : '';
  const files = e.unit === 'files';
  const amount = (n: number) => (files ? `${n} files` : formatBytes(n));
  const of = e.total ? ` of ${amount(e.total)}` : '';
  const rate = files ? `${Math.round(e.rate)} files/s` : formatRate(e.rate);
  const phase = e.phase ? ` ${e.phase}:` : '';
  const idle = e.idleSeconds !== undefined ? `, no progress for ${e.idleSeconds} s` : '';
  return `[${e.step}]${phase}${pct} ${amount(e.bytes)}${of}, ${rate}, ETA ${formatEta(e.etaSeconds)}${idle}`;
}

export function eventLine(e: InstallEvent): string | undefined {
  switch (e.type) {
    case 'step-start':
      return `==> ${e.step}: ${e.title}`;
    case 'step-end':
      return `<== ${e.step} done in ${(e.durationMs / 1000).toFixed(1)} s`;
    case 'step-fail':
      return `FAILED ${e.step}: ${e.message}${e.hint ? `\n  what to do: ${e.hint}` : ''}`;
    case 'step-skip':
      return `--- ${e.step} skipped: ${e.reason}`;
    case 'command':
      return `  $ ${e.command}`;
    case 'log':
      return `  ${e.level === 'info' ? '' : `${e.level}: `}${e.message}`;
    case 'progress':
      return `  ${progressLine(e)}`;
    case 'result':
      return e.result.ok ? 'Install finished.' : `Install failed at ${e.result.failedStep}.`;
  }
}

/**
 * Plain lines for a pipe, the journal or a serial console: progress at most every `progressEveryMs`
 * (a console must not scroll per chunk), and always a line when a step changes.
 */
export function linePrinter(write: (line: string) => void, progressEveryMs = 3000): EventSink {
  let lastProgress = 0;
  return (e) => {
    if (e.type === 'progress') {
      const done = e.total !== undefined && e.bytes >= e.total;
      if (!done && Date.now() - lastProgress < progressEveryMs) return;
      lastProgress = Date.now();
    }
    const line = eventLine(e);
    if (line !== undefined) write(line);
  };
}
