import type { StepName } from './plan.ts';

/** What the runner tells every face (console, line printer, JSON log, webhook). Never carries a secret. */
export type InstallEvent =
  | { type: 'step-start'; at: string; step: StepName; title: string }
  | { type: 'step-end'; at: string; step: StepName; durationMs: number }
  | { type: 'step-fail'; at: string; step: StepName; message: string; hint?: string }
  | { type: 'step-skip'; at: string; step: StepName; reason: string }
  | {
      type: 'progress';
      at: string;
      step: StepName;
      bytes: number;
      total?: number;
      rate: number;
      etaSeconds?: number;
      /** Which part of the step this counts, when a step has more than one (e.g. `apply` after the download); absent = the artifact's bytes. */
      phase?: string;
      /** What `bytes`/`total` count: bytes unless `files` (wimapply's "Creating files" counts files). */
      unit?: 'bytes' | 'files';
      /** Seconds since the count last moved, once that is IDLE_AFTER_MS or more (ops/progress.ts). */
      idleSeconds?: number;
    }
  | { type: 'command'; at: string; step: StepName; command: string }
  | { type: 'log'; at: string; level: 'info' | 'warn' | 'error'; step?: StepName; message: string }
  | { type: 'result'; at: string; result: InstallResult };

export interface InstallResult {
  ok: boolean;
  failedStep?: StepName;
  message?: string;
  startedAt: string;
  finishedAt: string;
  steps: { step: StepName; durationMs: number }[];
  imageDigest?: string;
  partitions: { number: number; device: string; partGuid: string; fsUuid?: string; label?: string; mountpoint?: string }[];
}

export type EventSink = (e: InstallEvent) => void;

export const now = () => new Date().toISOString();
