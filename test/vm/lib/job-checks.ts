/**
 * What a Shoal job's run in the maintenance VM shows, checked the same way by every VM test that runs one: the
 * installer's lines on the serial console, the settings the task ISO gave, the webhook report, and a disk left
 * untouched. withSerialTail prints where to look when a check fails.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import type { VmResult } from './qemu.ts';
import type { ReceivedRequest } from './webhook-receiver.ts';

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The last line of auto mode's failure summary (ops/auto.ts): the report was sent before it. */
export const SUMMARY_END = 'This machine stays up for inspection';

/**
 * What the installer wrote to the console, without the `[  12.345] shoal-install[PID]: ` that journald's console
 * forwarding (StandardOutput=journal+console) puts in front of each line. A getty prompt may share the line.
 */
export function installerConsole(serial: string): string {
  return serial
    .split('\n')
    .map((l) => /shoal-install\[\d+\]: (.*)$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined)
    .join('\n');
}

/** The maintenance OS's kernel command line: the ISO's GRUB entry, nothing from the test. */
function maintenanceCmdline(serial: string): string {
  return /Kernel command line: (.*)$/m.exec(serial)?.[1] ?? '';
}

/** Counts the failed checks of a test file: its work directory is kept when there was one. */
export interface FailureCount {
  count: number;
}

/** Runs a VM; on any failure in `check` prints the serial tail and where the files are, then rethrows. */
export async function withSerialTail<T>(failures: FailureCount, what: string, where: string, run: () => Promise<VmResult>, check: (r: VmResult) => Promise<T> | T): Promise<T> {
  let result: VmResult | undefined;
  try {
    result = await run();
    return await check(result);
  } catch (e) {
    failures.count++;
    process.stderr.write(`\n--- ${what}: serial tail (full log, screens and disks in ${where}) ---\n${result?.serialTail(150) ?? '(no VM result)'}\n---\n`);
    throw e;
  }
}

/** The contract's fields of a report to the webhook, and no secret or user-data in it; returns the body. */
export function assertWebhook(r: ReceivedRequest, serial: string, secret: string) {
  assert.equal(r.method, 'POST');
  assert.equal(r.path, `/api/v1/status-webhook/${serial}`);
  assert.equal(r.headers['x-webhook-secret'], secret, 'X-Webhook-Secret from the task ISO');
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(r.status, 200);
  const body = r.body as Record<string, unknown>;
  assert.ok(body && typeof body === 'object', `JSON body: ${r.text}`);
  assert.match(String(body.delivery_id), UUID, 'delivery_id');
  assert.equal(body.task_target, 'install-linux.target');
  assert.match(String(body.started_at), ISO_8601, 'started_at');
  assert.match(String(body.finished_at), ISO_8601, 'finished_at');
  assert.ok(Date.parse(String(body.started_at)) <= Date.parse(String(body.finished_at)), 'started_at <= finished_at');
  assert.equal(typeof body.dispatcher_version, 'string');
  // Never a secret or user-data in the payload.
  assert.ok(!r.text.includes(secret), 'the secret is not in the body');
  for (const leak of ['cloud-config', 'SHOAL-FIRSTBOOT', 'user_data', 'runcmd']) assert.ok(!r.text.includes(leak), `no user-data in the body (${leak})`);
  return body;
}

/** Auto mode found the job with no kernel argument: its settings came from the task ISO's shoal.conf. */
export function assertJobSettings(serial: string, out: string) {
  const cmdline = maintenanceCmdline(serial);
  assert.ok(cmdline, 'the maintenance kernel printed its command line');
  assert.doesNotMatch(cmdline, /\bshoal\./, `no shoal.* kernel argument: ${cmdline}`);
  assert.match(serial, /shoal-install boot: auto mode: recipe\.json on the task ISO on \/dev\/sr1\b/, 'the boot found the task ISO on the second CD');
  assert.match(out, /shoal\.auto is not set: auto mode runs because the boot found a task ISO/);
  for (const key of ['webhook', 'plain_http', 'poweroff'])
    assert.match(out, new RegExp(`^\\s*shoal\\.${key}\\b.* from the task ISO's shoal\\.conf$`, 'm'), `shoal.${key} from shoal.conf`);
}

/** A sparse blank disk (blankDisk) that no guest wrote to has no block allocated: any write, even of zeros, allocates one. */
export async function neverWritten(path: string): Promise<boolean> {
  return (await stat(path)).blocks === 0;
}
