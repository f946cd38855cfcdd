import type { EventSink } from '../events.ts';
import { jsonLog } from './json-log.ts';

/** Where an install's events go: the JSON-lines log and the faces a person watches (console lines, --json, the TUI). */
export interface Outputs {
  /** To the log and every face. */
  emit: EventSink;
  /** To the log alone (what the console already shows in its own words). */
  toLog: EventSink;
  /** The log's path, when one is open. */
  logPath?: string;
  /** Flushes the log; idempotent. */
  close(): Promise<void>;
}

export interface OutputOptions {
  /** The JSON-lines log; none without a path. */
  logPath?: string;
  faces: EventSink[];
  /** Go on without the log when it cannot be opened (the console: an install matters more than its log). */
  logOptional?: boolean;
}

export function openOutputs({ logPath, faces, logOptional = false }: OutputOptions): Outputs {
  let log: ReturnType<typeof jsonLog> | undefined;
  try {
    log = logPath === undefined ? undefined : jsonLog(logPath);
  } catch (e) {
    if (!logOptional) throw e;
  }
  let closed: Promise<void> | undefined;
  const toLog: EventSink = (e) => log?.sink(e);
  return {
    emit: (e) => {
      toLog(e);
      for (const face of faces) face(e);
    },
    toLog,
    logPath: log ? logPath : undefined,
    close: () => (closed ??= log ? log.close() : Promise.resolve()),
  };
}
