// The one retry policy (ops/retry.ts): Retry-After, full jitter, and two separate budgets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RETRY_AFTER_MS, Patience, busyAnswer, busyLine, parseRetryAfter, type RetryPolicy } from '../../ops/retry.ts';

const POLICY: RetryPolicy = { attempts: 3, baseDelayMs: 1000, maxDelayMs: 15_000, busyPatienceMs: 60_000 };

test('Retry-After: delta-seconds or an HTTP date, capped; anything else is not a wait', () => {
  const now = Date.parse('Sun, 29 Nov 2026 20:00:00 GMT');
  assert.equal(parseRetryAfter('3', now), 3000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Sun, 29 Nov 2026 20:00:07 GMT', now), 7000);
  assert.equal(parseRetryAfter('Sun, 29 Nov 2026 19:59:00 GMT', now), 0, 'a date in the past: at once');
  assert.equal(parseRetryAfter('86400', now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 20:00:00 GMT', now), MAX_RETRY_AFTER_MS);
  for (const junk of [undefined, '', '-1', '1.5', 'soon', '12:00', 'Sun, 99 Foo 2026']) assert.equal(parseRetryAfter(junk, now), undefined, String(junk));
  assert.equal(parseRetryAfter('99999999999999999999999', now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter(['2', '9'], now), 2000);
});

test('busy is a 429, or a 503 that says when to come back; other answers are not', () => {
  assert.deepEqual(busyAnswer(429, {}), { status: 429, retryAfterMs: undefined });
  assert.deepEqual(busyAnswer(429, { 'retry-after': '2' }), { status: 429, retryAfterMs: 2000 });
  assert.deepEqual(busyAnswer(503, { 'retry-after': '1' }), { status: 503, retryAfterMs: 1000 });
  assert.equal(busyAnswer(503, {}), undefined);
  assert.equal(busyAnswer(503, { 'retry-after': 'later' }), undefined);
  assert.equal(busyAnswer(500, { 'retry-after': '1' }), undefined);
  assert.equal(busyLine('registry', { status: 429, retryAfterMs: 1000 }, 1300), 'registry busy (HTTP 429, Retry-After 1 s), retrying in 1.3 s');
});

test('failures back off with full jitter: anywhere from 0 to the exponential cap', () => {
  const low = new Patience({ ...POLICY, attempts: 10 }, () => 0);
  const high = new Patience({ ...POLICY, attempts: 10 }, () => 0.999_999);
  const lows = [1, 2, 3, 4, 5, 6].map(() => (low.next({ kind: 'failure' }) as { delayMs: number }).delayMs);
  const highs = [1, 2, 3, 4, 5, 6].map(() => (high.next({ kind: 'failure' }) as { delayMs: number }).delayMs);
  assert.deepEqual(lows, [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(highs, [1000, 2000, 4000, 8000, 15_000, 15_000]);
  // Real randomness: a rack of clients does not retry at one instant.
  const spread = new Set(Array.from({ length: 20 }, () => (new Patience(POLICY).next({ kind: 'failure' }) as { delayMs: number }).delayMs));
  assert.ok(spread.size > 10, `20 clients chose ${spread.size} different waits`);
});

test('the failure budget: `attempts` in a row, then a verdict that says so; progress gives them back', () => {
  const p = new Patience(POLICY, () => 0.5);
  assert.equal(p.next({ kind: 'failure' }).retry, true);
  assert.equal(p.next({ kind: 'failure' }).retry, true);
  const out = p.next({ kind: 'failure' });
  assert.deepEqual(out, { retry: false, why: 'gave up after 3 attempts without progress' });
  p.refill();
  assert.equal(p.next({ kind: 'failure' }).retry, true);
});

test('busy answers draw on their own, longer budget: Retry-After waited in full (plus up to half), no attempt used up', () => {
  const p = new Patience(POLICY, () => 0.999_999);
  for (let i = 0; i < 4; i++) {
    const v = p.next({ kind: 'busy', status: 429, retryAfterMs: 10_000 });
    assert.ok(v.retry && v.delayMs >= 10_000 && v.delayMs <= 15_000, JSON.stringify(v));
  }
  assert.equal(p.next({ kind: 'busy', status: 429, retryAfterMs: 10_000 }).retry, false, 'a 5th wait of 15 s would pass 60 s of patience');
  assert.equal(p.next({ kind: 'failure' }).retry, true, 'busy answers did not use up the failure budget');
  assert.equal(p.next({ kind: 'failure' }).retry, true);
  assert.equal(p.next({ kind: 'failure' }).retry, false);
});

test('the busy budget runs out, with the time waited in the verdict; Retry-After 0 still waits the base delay', () => {
  const p = new Patience({ ...POLICY, busyPatienceMs: 5000 }, () => 0);
  const waits: number[] = [];
  for (;;) {
    const v = p.next({ kind: 'busy', status: 503, retryAfterMs: 2000 });
    if (!v.retry) {
      assert.match(v.why, /still busy after 4 s of waiting \(the busy patience is 5 s\)/);
      break;
    }
    waits.push(v.delayMs);
  }
  assert.deepEqual(waits, [2000, 2000]);
  assert.equal((new Patience(POLICY, () => 0).next({ kind: 'busy', status: 503, retryAfterMs: 0 }) as { delayMs: number }).delayMs, 1000);
  const noHeader = new Patience(POLICY, () => 0.999_999);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => (noHeader.next({ kind: 'busy', status: 429 }) as { delayMs: number }).delayMs),
    [1000, 2000, 4000, 8000, 15_000],
  );
});
