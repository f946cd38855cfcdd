import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressMeter, type ProgressSnapshot } from '../../ops/progress.ts';

/** A meter on a clock the test moves: `at(ms)` sets the time. */
function meter(total = 100 * 2 ** 20) {
  let t = 0;
  const seen: ProgressSnapshot[] = [];
  const m = new ProgressMeter(
    total,
    (p) => seen.push(p),
    250,
    5000,
    () => t,
  );
  return { m, seen, at: (ms: number) => (t = ms), last: () => seen.at(-1)! };
}

test('a stall: the pulses bring the rate down to 0, drop the ETA and count the idle seconds', () => {
  const { m, at, last } = meter();
  for (let s = 0; s <= 10; s++) {
    at(s * 1000);
    m.update(s * 2 ** 20);
  }
  assert.equal(last().rate, 2 ** 20);
  assert.equal(last().idleSeconds, undefined);
  for (let s = 11; s <= 20; s++) {
    at(s * 1000);
    m.pulse();
    if (s === 12) assert.equal(last().idleSeconds, undefined, 'two quiet seconds are not a stall yet');
    if (s === 13) assert.equal(last().idleSeconds, 3);
  }
  assert.equal(last().rate, 0, 'five quiet seconds: nothing in the window moved');
  assert.equal(last().etaSeconds, undefined);
  assert.equal(last().idleSeconds, 10);
  assert.equal(last().bytes, 10 * 2 ** 20);

  at(21_000);
  m.update(11 * 2 ** 20);
  assert.equal(last().idleSeconds, undefined, 'the count moved again');
  assert.ok(last().rate > 0);
});

test('before the first byte the idle time counts from the start; a finished meter is not pulsed', () => {
  const { m, seen, at, last } = meter(10);
  at(4000);
  m.pulse();
  assert.equal(last().idleSeconds, 4);
  at(5000);
  m.update(10);
  const count = seen.length;
  at(9000);
  m.pulse();
  assert.equal(seen.length, count, 'nothing more once complete');
});

test('a pull updates for every chunk, thousands a second: the rate is that of the last five seconds', () => {
  const { m, at, last } = meter(10 * 2 ** 30);
  const chunk = 64 * 1024;
  let bytes = 0;
  // 10 s at 64 KiB every 0.1 ms (625 MiB/s), then 10 s at a tenth of that.
  for (let i = 1; i <= 100_000; i++) {
    at(i / 10);
    m.update((bytes += chunk));
  }
  assert.equal(last().rate, chunk * 10_000);
  for (let i = 1; i <= 10_000; i++) {
    at(10_000 + i);
    m.update((bytes += chunk));
  }
  assert.equal(Math.round(last().rate), chunk * 1000, 'the fast start is out of the window');
  assert.equal(last().bytes, bytes);
});
