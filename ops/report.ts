/**
 * The Shoal status webhook (README, "What is reported"): one POST per outcome, retried on network errors and 5xx after
 * 30, 60 and 120 s with the same delivery_id, 10 s per request, 4xx permanent. No secret or user data in the body.
 * A busy controller (429, or 503 with Retry-After) is waited for as it asks, within the busy patience (ops/retry.ts).
 */
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import pkg from '../package.json' with { type: 'json' };
import { redactText } from './exec.ts';
import type { Plan } from './plan.ts';
import type { InstallResult } from './events.ts';
import { DEFAULT_RETRY, Patience, busyAnswer, busyLine, pause, type Busy } from './retry.ts';

export const DISPATCHER_VERSION: string = pkg.version;
/** The Shoal step name for everything that goes wrong before a provisioning step runs (recipe, task ISO, kernel args, plan). */
export const DISPATCHER_STEP = 'provision-dispatcher.service';
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [30_000, 60_000, 120_000];
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** A 429 without Retry-After: back off from 5 s to 2 min, with jitter. */
const WEBHOOK_BUSY_BACKOFF = { baseDelayMs: 5_000, maxDelayMs: 120_000 };

/** The JSON body, exactly the contract's fields. */
export interface StatusReport {
  status: 'success' | 'failed';
  /** Required when failed: the Shoal step's unit name. */
  failed_step?: string;
  /** Unique per outcome, the same on every retry (the controller deduplicates on it). */
  delivery_id: string;
  task_target?: string;
  started_at?: string;
  finished_at?: string;
  dispatcher_version?: string;
  schema_id?: string;
  /** Our extension: the disk the install chose, and why (README "Choosing the disk"). Absent when none was chosen. */
  target_disk?: ReportedTarget;
  /** Our extension: the digest of the image manifest installed (from an index, the one for this machine's platform). */
  image_digest?: string;
  /** Our extension: each blob of the image pulled, and which source served it (a mirror or the origin). */
  blobs?: ReportedBlob[];
}

export interface ReportedBlob {
  digest: string;
  size: number;
  /** In the order they served it; more than one when a source failed part way. */
  sources: { source: 'mirror' | 'origin'; host: string; bytes: number }[];
  /** Each hand-over from a failing mirror to the next source, at which byte, and why. */
  fallbacks: { from: string; to: string; at_byte: number; reason: string }[];
}

export interface ReportedTarget {
  /** The device written. */
  path: string;
  /** What the recipe named (a device, a by-id/by-path name), when it named one. */
  given?: string;
  chosen_by: 'path' | 'link' | 'facts' | 'hints';
  hints?: string;
  why: string;
  serial?: string;
  wwn?: string;
}

export interface WebhookTarget {
  /** The controller's base URL (`shoal.webhook=`); the path is appended. */
  url: string;
  serial: string;
  /** Sent as `X-Webhook-Secret`; never logged. */
  secret?: string;
}

export interface PostOptions {
  /** Waits before the 2nd, 3rd, ... attempt (default 30 s, 60 s, 120 s). */
  retryDelaysMs?: readonly number[];
  /** How long to wait, in all, on a controller that answers busy (default: DEFAULT_RETRY.busyPatienceMs). */
  busyPatienceMs?: number;
  timeoutMs?: number;
  log?: (message: string, level: 'info' | 'warn' | 'error') => void;
  signal?: AbortSignal;
  /** Secrets the controller's answers may echo (a 403 body quoting the request): hidden in every line and reason. The webhook secret always is. */
  redact?: readonly string[];
}

export type PostOutcome = { delivered: true; attempts: number; idempotent: boolean } | { delivered: false; attempts: number; permanent: boolean; reason: string };

/**
 * The disk a plan chose, as the report carries it: only when the recipe chose it by a stable name or by hints, so
 * that a recipe naming /dev/sda reports exactly the contract's fields, as before.
 */
export function reportedTarget(plan: Plan): ReportedTarget | undefined {
  const t = plan.target;
  if (!t || t.how === 'path') return undefined;
  return JSON.parse(
    JSON.stringify({ path: plan.disk.path, given: t.given, chosen_by: t.how, hints: t.hints, why: t.why, serial: plan.disk.serial, wwn: plan.disk.wwn }),
  ) as ReportedTarget;
}

/** The run record's blobs for the report; a registry's error text could quote a secret, so `secrets` are hidden. */
export function reportedBlobs(blobs: InstallResult['blobs'], secrets: readonly string[]): ReportedBlob[] | undefined {
  return blobs?.map((b) => ({
    digest: b.digest,
    size: b.size,
    sources: b.sources.map((s) => ({ source: s.mirror ? 'mirror' : 'origin', host: s.host, bytes: s.bytes })),
    fallbacks: b.fallbacks.map((f) => ({ from: f.from, to: f.to, at_byte: f.atByte, reason: redactText(f.reason, secrets) })),
  }));
}

export function makeStatusReport(fields: Omit<StatusReport, 'delivery_id' | 'dispatcher_version'> & { delivery_id?: string }): StatusReport {
  if (fields.status === 'failed' && !fields.failed_step) throw new Error('a failed status report needs failed_step');
  const report: StatusReport = {
    status: fields.status,
    ...(fields.status === 'failed' ? { failed_step: fields.failed_step } : {}),
    delivery_id: fields.delivery_id ?? randomUUID(),
    task_target: fields.task_target,
    started_at: fields.started_at,
    finished_at: fields.finished_at,
    dispatcher_version: DISPATCHER_VERSION,
    schema_id: fields.schema_id,
    target_disk: fields.target_disk,
    image_digest: fields.image_digest,
    blobs: fields.blobs,
  };
  return JSON.parse(JSON.stringify(report)) as StatusReport;
}

/** `{base}/api/v1/status-webhook/{serial}`; the serial is path-escaped. */
export function statusUrl(base: string, serial: string): string {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/v1/status-webhook/${encodeURIComponent(serial)}`;
  return u.toString();
}

/** For logs: no user:password@, no query string (either may carry a token). */
export function shownUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

type Attempt = { kind: 'ok'; idempotent: boolean } | { kind: 'retry'; reason: string } | { kind: 'busy'; reason: string; busy: Busy } | { kind: 'permanent'; reason: string };

/** The most of a controller's answer that is read: `{"ok":true}` or an error page's first lines, not an endless body. */
const ANSWER_LIMIT = 64 * 1024;

async function answerText(stream: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= ANSWER_LIMIT) {
      stream.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, ANSWER_LIMIT).toString('utf8');
}

async function attempt(url: string, body: string, target: WebhookTarget, timeoutMs: number, secrets: readonly string[], signal?: AbortSignal): Promise<Attempt> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': `shoal-install/${DISPATCHER_VERSION}` };
  if (target.secret) headers['x-webhook-secret'] = target.secret;
  let status: number;
  let text: string;
  let busy: Busy | undefined;
  try {
    const res = await request(url, { method: 'POST', headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    status = res.statusCode;
    busy = busyAnswer(status, res.headers);
    text = await answerText(res.body);
  } catch (e) {
    if (signal?.aborted) throw e;
    const why = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    return { kind: 'retry', reason: `network error: ${why}` };
  }
  // Hidden before it is cut short, so that no part of a secret survives the cut.
  const said = redactText(text, secrets).trim().slice(0, 200).replace(/\s+/g, ' ');
  if (busy) return { kind: 'busy', busy, reason: `HTTP ${status}${said ? ` ${said}` : ''}` };
  if (status >= 500) return { kind: 'retry', reason: `HTTP ${status}${said ? ` ${said}` : ''}` };
  if (status >= 300 && status < 400) return { kind: 'permanent', reason: `HTTP ${status} (a redirect: give the controller's final URL in shoal.webhook=)` };
  if (status >= 400) {
    const hint = status === 401 || status === 403 ? ' (check the webhook secret)' : status === 404 ? ' (check shoal.webhook= and the serial)' : '';
    return { kind: 'permanent', reason: `HTTP ${status}${hint}${said ? `: ${said}` : ''}` };
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  const ok = typeof answer === 'object' && answer !== null && (answer as { ok?: unknown }).ok === true;
  if (status === 200 && ok) return { kind: 'ok', idempotent: (answer as { idempotent?: unknown }).idempotent === true };
  return { kind: 'retry', reason: `HTTP ${status} without {"ok":true}${said ? `: ${said}` : ''}` };
}

/** POST the report; retry as the contract says. Never throws for a delivery problem (only when `signal` aborts). */
export async function postStatus(target: WebhookTarget, report: StatusReport, opts: PostOptions = {}): Promise<PostOutcome> {
  const delays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const log = opts.log ?? (() => undefined);
  const url = statusUrl(target.url, target.serial);
  const shown = shownUrl(url);
  const body = JSON.stringify(report);
  const secrets = [...(target.secret ? [target.secret] : []), ...(opts.redact ?? [])];
  const patience = new Patience({
    ...WEBHOOK_BUSY_BACKOFF,
    attempts: delays.length + 1,
    schedule: delays,
    busyPatienceMs: opts.busyPatienceMs ?? DEFAULT_RETRY.busyPatienceMs,
  });
  if (!target.secret) log(`webhook: no webhook secret (webhook_secret on the task ISO): the controller may refuse the report`, 'warn');
  let failures = 0;
  for (let n = 1; ; n++) {
    const r = await attempt(url, body, target, timeoutMs, secrets, opts.signal);
    if (r.kind === 'ok') {
      log(`webhook: reported ${report.status}${report.failed_step ? ` (${report.failed_step})` : ''} to ${shown}${r.idempotent ? ' (already recorded)' : ''}`, 'info');
      return { delivered: true, attempts: n, idempotent: r.idempotent };
    }
    if (r.kind === 'permanent') {
      log(`webhook: ${shown} refused the report: ${r.reason}; not retrying`, 'error');
      return { delivered: false, attempts: n, permanent: true, reason: r.reason };
    }
    const verdict = patience.next(r.kind === 'busy' ? { kind: 'busy', ...r.busy } : { kind: 'failure' });
    if (!verdict.retry) {
      log(`webhook: ${shown}: ${r.reason}; gave up after ${n} attempts${r.kind === 'busy' ? ` (${verdict.why})` : ''}`, 'error');
      return { delivered: false, attempts: n, permanent: false, reason: r.reason };
    }
    const wait = verdict.delayMs;
    log(
      r.kind === 'busy'
        ? `webhook: ${shown}: ${busyLine('controller', r.busy, wait)}`
        : `webhook: ${shown}: ${r.reason}; retrying in ${wait >= 1000 ? `${wait / 1000} s` : `${wait} ms`} (attempt ${++failures + 1} of ${delays.length + 1})`,
      'warn',
    );
    await pause(wait, opts.signal);
  }
}
