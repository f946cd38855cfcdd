/** Bytes -> rate and ETA over a sliding window, so a stall shows as a falling rate rather than a frozen number. */
export class ProgressMeter {
  private samples: { t: number; bytes: number }[] = [];
  private lastEmit = 0;
  bytes = 0;

  constructor(
    readonly total: number | undefined,
    private readonly emit: (p: { bytes: number; total?: number; rate: number; etaSeconds?: number }) => void,
    private readonly intervalMs = 250,
    private readonly windowMs = 5000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Set the absolute byte count; emits at most once per interval, and always on completion. */
  update(bytes: number): void {
    this.bytes = bytes;
    const t = this.clock();
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && this.samples[0]!.t < t - this.windowMs) this.samples.shift();
    const done = this.total !== undefined && bytes >= this.total;
    if (!done && t - this.lastEmit < this.intervalMs) return;
    this.lastEmit = t;
    this.emit(this.snapshot());
  }

  snapshot(): { bytes: number; total?: number; rate: number; etaSeconds?: number } {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = first && last ? (last.t - first.t) / 1000 : 0;
    const rate = first && last && seconds > 0 ? (last.bytes - first.bytes) / seconds : 0;
    const etaSeconds = this.total !== undefined && rate > 0 ? Math.max(0, (this.total - this.bytes) / rate) : undefined;
    return { bytes: this.bytes, total: this.total, rate, etaSeconds };
  }
}
