import type { InstallEvent, InstallResult } from '../../ops/events.ts';
import { eventLine } from '../../ops/outputs/line-printer.ts';
import type { StepName } from '../../ops/plan.ts';

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepView {
  step: StepName;
  title: string;
  state: StepState;
  durationMs?: number;
  note?: string;
}

export type ProgressView = Omit<Extract<InstallEvent, { type: 'progress' }>, 'type' | 'at'>;

/** Everything the Install, Done and Failed screens show, built from the runner's events alone. */
export interface InstallModel {
  steps: StepView[];
  current?: StepName;
  progress?: ProgressView;
  /** The command the current step started last. */
  command?: string;
  /** Every event as a log line (progress lines left out: the bar shows them). */
  lines: string[];
  failure?: { step: StepName; message: string; hint?: string };
  result?: InstallResult;
  startedAt: number;
  aborting: boolean;
  /** Events applied, for tests and the benchmark. */
  events: number;
}

export const MAX_LOG_LINES = 5000;

export function initialInstall(steps: { step: StepName; title: string }[] = [], startedAt = Date.now()): InstallModel {
  return { steps: steps.map((s) => ({ ...s, state: 'pending' })), lines: [], startedAt, aborting: false, events: 0 };
}

function stepOf(m: InstallModel, step: StepName, title?: string): StepView {
  let s = m.steps.find((x) => x.step === step);
  if (!s) {
    s = { step, title: title ?? step, state: 'pending' };
    m.steps.push(s);
  }
  if (title) s.title = title;
  return s;
}

/** Apply one event in place (events arrive faster than frames; the screen redraws from the model). */
export function applyEvent(m: InstallModel, e: InstallEvent): InstallModel {
  m.events++;
  switch (e.type) {
    case 'step-start': {
      const s = stepOf(m, e.step, e.title);
      s.state = 'running';
      m.current = e.step;
      m.command = undefined;
      m.progress = undefined;
      break;
    }
    case 'step-end': {
      const s = stepOf(m, e.step);
      s.state = 'done';
      s.durationMs = e.durationMs;
      if (m.current === e.step) {
        m.current = undefined;
        m.command = undefined;
      }
      break;
    }
    case 'step-fail': {
      const s = stepOf(m, e.step);
      s.state = 'failed';
      m.failure = { step: e.step, message: e.message, hint: e.hint };
      break;
    }
    case 'step-skip': {
      const s = stepOf(m, e.step);
      s.state = 'skipped';
      s.note = e.reason;
      break;
    }
    case 'progress':
      m.progress = { step: e.step, bytes: e.bytes, total: e.total, rate: e.rate, etaSeconds: e.etaSeconds, phase: e.phase, unit: e.unit, idleSeconds: e.idleSeconds };
      return m;
    case 'command':
      if (e.step === m.current) m.command = e.command;
      break;
    case 'log':
    case 'result':
      if (e.type === 'result') {
        m.result = e.result;
        m.current = undefined;
      }
      break;
  }
  const line = eventLine(e);
  if (line !== undefined) {
    m.lines.push(...line.split('\n'));
    if (m.lines.length > MAX_LOG_LINES) m.lines.splice(0, m.lines.length - MAX_LOG_LINES);
  }
  return m;
}

export const totalDuration = (r: InstallResult) => Date.parse(r.finishedAt) - Date.parse(r.startedAt);
