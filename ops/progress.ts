/** How long the count may stand still before a progress event says so. */
export const IDLE_AFTER_MS = 3000;

export interface ProgressSnapshot {
  bytes: number;
  total?: number;
  rate: number;
  etaSeconds?: number;
  idleSeconds?: number;
  phase?: string;
}

/** How far apart the meter's samples are kept (the newest is always current). */
const SAMPLE_MS = 100;

/**
 * Bytes -> rate and ETA over a sliding window. The runner pulses every meter of the running step each second, so
 * a stall shows as a falling rate and a growing idle time rather than the last numbers standing still.
 */
export class ProgressMeter {
  private samples: { t: number; bytes: number }[] = [];
  private lastEmit = 0;
  private lastMoved: number;
  bytes = 0;
  /** Which part is under way (`layer 2 of 5`), named in every event from setPhase on. */
  private phase?: string;

  constructor(
    readonly total: number | undefined,
    private readonly emit: (p: ProgressSnapshot) => void,
    private readonly intervalMs = 250,
    private readonly windowMs = 5000,
    private readonly clock: () => number = Date.now,
  ) {
    this.lastMoved = clock();
  }

  /** Set the absolute byte count; emits at most once per interval, and always on completion. */
  update(bytes: number): void {
    const t = this.clock();
    if (bytes !== this.bytes) this.lastMoved = t;
    this.bytes = bytes;
    // Samples at least SAMPLE_MS apart, the newest always current: a pull calls this for every 64 KiB chunk,
    // thousands of times a second, and the rate needs only the window's first and last.
    const n = this.samples.length;
    const latest = this.samples[n - 1];
    if (latest && n >= 2 && t - this.samples[n - 2]!.t < SAMPLE_MS) {
      latest.t = t;
      latest.bytes = bytes;
    } else {
      this.samples.push({ t, bytes });
    }
    while (this.samples.length > 2 && this.samples[0]!.t < t - this.windowMs) this.samples.shift();
    const done = this.total !== undefined && bytes >= this.total;
    if (!done && t - this.lastEmit < this.intervalMs) return;
    this.lastEmit = t;
    this.emit(this.snapshot());
  }

  /** A new part begins (`layer 3 of 5`): said at once, not at the next throttled update. */
  setPhase(phase: string): void {
    this.phase = phase;
    this.lastEmit = this.clock();
    this.emit(this.snapshot());
  }

  /** The same count again, now: called while the step runs, whether or not anything moved. */
  pulse(): void {
    if (this.total !== undefined && this.bytes >= this.total) return;
    this.update(this.bytes);
  }

  snapshot(): ProgressSnapshot {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = first && last ? (last.t - first.t) / 1000 : 0;
    const rate = first && last && seconds > 0 ? (last.bytes - first.bytes) / seconds : 0;
    const etaSeconds = this.total !== undefined && rate > 0 ? Math.max(0, (this.total - this.bytes) / rate) : undefined;
    const idleMs = this.clock() - this.lastMoved;
    return {
      bytes: this.bytes,
      total: this.total,
      rate,
      etaSeconds,
      ...(idleMs >= IDLE_AFTER_MS ? { idleSeconds: Math.floor(idleMs / 1000) } : {}),
      ...(this.phase ? { phase: this.phase } : {}),
    };
  }
}
