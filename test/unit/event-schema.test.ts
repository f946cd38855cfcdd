import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { followLog } from '../../ops/outputs/log-follower.ts';
import { STREAM_VERSION, parseEventLine, streamLine, type InstallEvent } from '../../ops/events.ts';
import { SCHEMA_PATH, eventSchemaText } from '../../scripts/event-schema.ts';

const result: InstallEvent = {
  type: 'result',
  at: '2026-01-01T00:00:01.000Z',
  result: { ok: true, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', steps: [{ step: 'partition.service', durationMs: 5 }], partitions: [] },
};

test('the committed JSON Schema is the one the zod schemas give (npm run schema:events rewrites it)', async () => {
  assert.equal(await readFile(SCHEMA_PATH, 'utf8'), eventSchemaText());
});

test('every line on the wire carries the stream version and reads back as the same event', () => {
  const events: InstallEvent[] = [
    { type: 'step-start', at: '2026-01-01T00:00:00.000Z', step: 'image-linux.service', title: 'Write the image' },
    { type: 'progress', at: '2026-01-01T00:00:00.500Z', step: 'image-linux.service', bytes: 10, total: 20, rate: 5, phase: 'apply', unit: 'files' },
    { type: 'log', at: '2026-01-01T00:00:00.600Z', level: 'warn', message: 'hm' },
    result,
  ];
  for (const e of events) {
    const line = streamLine(e);
    assert.equal(JSON.parse(line).v, STREAM_VERSION);
    assert.deepEqual(parseEventLine(line), { event: e });
  }
});

test('a line that is not an event of this version is named, never cast', () => {
  const problem = (line: string) => ('problem' in parseEventLine(line) ? (parseEventLine(line) as { problem: string }).problem : undefined);
  assert.equal(problem('{"type":"step-start"'), 'not JSON');
  assert.match(problem(JSON.stringify({ type: 'log', at: 'x', level: 'info', message: 'm' }))!, /stream version undefined/);
  assert.match(problem(JSON.stringify({ v: 2, type: 'log', at: 'x', level: 'info', message: 'm' }))!, /stream version 2/);
  assert.match(problem(JSON.stringify({ v: 1, type: 'step-end', at: 'x', step: 'format-c.service', durationMs: 1 }))!, /step/);
  assert.match(problem(JSON.stringify({ v: 1, type: 'progress', at: 'x', step: 'partition.service', bytes: '10', rate: 1 }))!, /bytes/);
  assert.match(problem(JSON.stringify({ v: 1, type: 'reboot', at: 'x' }))!, /type/);
  assert.equal(problem('null'), 'stream version undefined, this reader knows 1');
});

test('a field added later within the version is ignored, not refused', () => {
  const line = JSON.stringify({ ...JSON.parse(streamLine(result)), newField: 1 });
  assert.deepEqual(parseEventLine(line), { event: result });
});

test('watch mode reports a bad line in the log it follows and goes on to the result', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-events-'));
  try {
    const path = join(dir, 'install.jsonl');
    const start: InstallEvent = { type: 'step-start', at: '2026-01-01T00:00:00.000Z', step: 'partition.service', title: 'Partition' };
    await writeFile(path, [streamLine(start), '{"v":1,"type":"step-end","at":"x","step":"partition.service"}', 'garbage', streamLine(result), ''].join('\n'));
    const seen: InstallEvent[] = [];
    await followLog(path, (e) => seen.push(e), AbortSignal.timeout(10_000), 10);
    assert.deepEqual(seen[0], start);
    assert.deepEqual(seen.at(-1), result);
    const warnings = seen.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e as { message: string }).message);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /line 2 is not an install event \(.*durationMs/);
    assert.match(warnings[1]!, /line 3 is not an install event \(not JSON\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
