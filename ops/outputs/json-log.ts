import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { streamLine, type EventSink } from '../events.ts';

export const DEFAULT_LOG_DIR = '/var/log/shoal-install';

export function defaultLogPath(at = new Date()): string {
  return `${DEFAULT_LOG_DIR}/install-${at.toISOString().replace(/[:.]/g, '-')}.jsonl`;
}

/** One JSON object per event (the versioned stream, ops/events.ts), appended as it happens; `close` flushes. Events are already scrubbed of secrets. */
export function jsonLog(path: string): { sink: EventSink; close: () => Promise<void> } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const out = createWriteStream(path, { flags: 'a', mode: 0o600 });
  return {
    sink: (e) => void out.write(`${streamLine(e)}\n`),
    close: () => new Promise((resolve) => out.end(resolve)),
  };
}
