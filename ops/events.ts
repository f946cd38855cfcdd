import { z } from 'zod';
import { ALL_STEPS } from './plan.ts';

/**
 * The event stream is a public contract: `--json`, the JSON-lines log, watch mode and outside tools read it.
 * Each line on the wire is one event with `v` (STREAM_VERSION) added. Within a version, fields may only be
 * added (readers ignore fields they do not know); removing, renaming or changing the meaning of a field bumps
 * the version. docs/install-events.schema.json is generated from these schemas (scripts/event-schema.ts).
 */
export const STREAM_VERSION = 1;

const at = z.string().describe('ISO 8601 time the event happened');
const step = z.enum(ALL_STEPS).describe('the Shoal step');

export const InstallResultSchema = z.object({
  ok: z.boolean(),
  failedStep: step.optional(),
  message: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  steps: z.array(z.object({ step, durationMs: z.number() })),
  imageDigest: z.string().optional(),
  blobs: z
    .array(
      z.object({
        digest: z.string(),
        size: z.number(),
        sources: z.array(z.object({ host: z.string(), mirror: z.boolean(), bytes: z.number() })).describe('who served the bytes, in order: a mirror, or the origin registry'),
        fallbacks: z.array(z.object({ from: z.string(), to: z.string(), atByte: z.number(), reason: z.string() })).describe('each hand-over from a failing source to the next'),
      }),
    )
    .optional()
    .describe('every blob pulled whole, once verified'),
  partitions: z.array(
    z.object({
      number: z.number().int(),
      device: z.string(),
      partGuid: z.string(),
      fsUuid: z.string().optional(),
      label: z.string().optional(),
      mountpoint: z.string().optional(),
    }),
  ),
});

const eventVariants = [
  z.object({ type: z.literal('step-start'), at, step, title: z.string() }),
  z.object({ type: z.literal('step-end'), at, step, durationMs: z.number() }),
  z.object({ type: z.literal('step-fail'), at, step, message: z.string(), hint: z.string().optional() }),
  z.object({ type: z.literal('step-skip'), at, step, reason: z.string() }),
  z.object({
    type: z.literal('progress'),
    at,
    step,
    bytes: z.number(),
    total: z.number().optional(),
    rate: z.number(),
    etaSeconds: z.number().optional(),
    phase: z.string().optional().describe("which part of the step this counts when a step has more than one (e.g. 'apply' after the download); absent = the artifact's bytes"),
    unit: z.enum(['bytes', 'files']).optional().describe("what bytes/total count: bytes unless 'files'"),
    idleSeconds: z.number().optional().describe('seconds since the count last moved, once that is long enough to mention'),
  }),
  z.object({ type: z.literal('command'), at, step, command: z.string() }),
  z.object({ type: z.literal('log'), at, level: z.enum(['info', 'warn', 'error']), step: step.optional(), message: z.string() }),
  z.object({ type: z.literal('result'), at, result: InstallResultSchema }),
] as const;

/** What the runner tells every face (console, line printer, JSON log, webhook). Never carries a secret. */
export const InstallEventSchema = z.discriminatedUnion('type', eventVariants);

/** One line of the stream as written: an event and the stream's version. */
export const StreamLineSchema = z.intersection(z.object({ v: z.literal(STREAM_VERSION).describe('the stream version') }), InstallEventSchema);

export type InstallEvent = z.infer<typeof InstallEventSchema>;
export type InstallResult = z.infer<typeof InstallResultSchema>;
export type EventSink = (e: InstallEvent) => void;

export { now } from './event-time.ts';

export const streamLine = (e: InstallEvent) => JSON.stringify({ v: STREAM_VERSION, ...e });

/** Read one line of the stream back: the event, or why the line is not one (never a cast). */
export function parseEventLine(line: string): { event: InstallEvent } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { problem: 'not JSON' };
  }
  const v = (value as { v?: unknown } | null)?.v;
  if (v !== STREAM_VERSION) return { problem: `stream version ${JSON.stringify(v)}, this reader knows ${STREAM_VERSION}` };
  const parsed = InstallEventSchema.safeParse(value);
  if (!parsed.success) return { problem: z.prettifyError(parsed.error).replace(/\n/g, '; ') };
  return { event: parsed.data };
}
