/** Watch mode's side of the JSON-lines log (json-log.ts writes it): replay it, then follow it as it grows. */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { now, parseEventLine, type InstallEvent } from '../events.ts';
import { pause } from '../pause.ts';
import { DEFAULT_LOG_DIR } from './json-log.ts';

/** The newest install log in the log directory (auto mode writes one per run). */
async function latestLog(dir = DEFAULT_LOG_DIR): Promise<string | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl')).sort();
  return files.length ? join(dir, files.at(-1)!) : undefined;
}

/**
 * Follow the newest install log in `dir`, waiting for one to appear: on tty1 the watch starts at boot, before auto
 * mode has opened its log (it opens one at its start, and ends it with a result even when the job is refused).
 */
export async function followLatestLog(onEvent: (e: InstallEvent) => void, signal: AbortSignal, dir = DEFAULT_LOG_DIR, pollMs = 250): Promise<void> {
  while (!signal.aborted) {
    const path = await latestLog(dir);
    if (path) return followLog(path, onEvent, signal, pollMs);
    await pause(pollMs, signal);
  }
}

/**
 * Replay a JSON-lines log from the start and keep following it until `signal` aborts or a result arrives. A line
 * that is not an event of this stream version is reported as a warning, never passed on as an event.
 */
export async function followLog(path: string, onEvent: (e: InstallEvent) => void, signal: AbortSignal, pollMs = 250): Promise<void> {
  let offset = 0;
  let pending = '';
  let lineNo = 0;
  while (!signal.aborted) {
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size > offset) {
      const chunk = await new Promise<string>((resolve, reject) => {
        let text = '';
        createReadStream(path, { start: offset, end: size - 1, encoding: 'utf8' })
          .on('data', (d) => (text += d))
          .on('end', () => resolve(text))
          .on('error', reject);
      });
      offset = size;
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        lineNo++;
        if (!line.trim()) continue;
        const read = parseEventLine(line);
        if ('problem' in read) {
          onEvent({ type: 'log', at: now(), level: 'warn', message: `${path} line ${lineNo} is not an install event (${read.problem}); skipped` });
          continue;
        }
        onEvent(read.event);
        if (read.event.type === 'result') return;
      }
    }
    await pause(pollMs, signal);
  }
}
