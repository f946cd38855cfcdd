/**
 * curl's --speed-limit/--speed-time for a blob transfer: a connection that delivers less than
 * `bytesPerSecond` on average over `seconds` is stalled, even if a byte trickles in now and then (which
 * keeps every socket timeout happy forever).
 */
export interface LowSpeedLimit {
  /** The floor; 0 turns the watch off. */
  bytesPerSecond: number;
  seconds: number;
}

// 10 KiB/s is far below any LAN or WAN link that can install an OS, and 30 s rides out a registry's
// garbage collection pause or a switch reconverging.
export const DEFAULT_LOW_SPEED: LowSpeedLimit = { bytesPerSecond: 10 * 1024, seconds: 30 };

/** `below 10 KiB/s for 30 s`: the limits are set in KiB, so that is how they are shown. */
export function describeLowSpeed(limit: LowSpeedLimit): string {
  const rate = limit.bytesPerSecond < 1024 ? `${limit.bytesPerSecond} B` : `${Number((limit.bytesPerSecond / 1024).toFixed(1))} KiB`;
  return `below ${rate}/s for ${limit.seconds} s`;
}

/**
 * Measures one connection. Only time spent waiting for the network counts: while the consumer (tar, a
 * disk) has not asked for the next chunk, backpressure holds the socket and that is not the registry's fault.
 */
export class LowSpeedWatch {
  private waitingSince: number | undefined;
  private windowMs = 0;
  private windowBytes = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: LowSpeedLimit,
    private readonly onStall: () => void,
  ) {
    if (limit.bytesPerSecond <= 0) return;
    const windowMs = limit.seconds * 1000;
    this.timer = setInterval(() => this.check(windowMs), Math.max(10, Math.min(1000, windowMs / 4)));
    this.timer.unref();
  }

  /** The reader asks the network for more. */
  waiting(): void {
    this.waitingSince ??= Date.now();
  }

  /** A chunk came; the reader hands it on (time until the next `waiting()` is the consumer's). */
  arrived(bytes: number): void {
    this.settle();
    this.waitingSince = undefined;
    this.windowBytes += bytes;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private settle(): void {
    if (this.waitingSince === undefined) return;
    const now = Date.now();
    this.windowMs += now - this.waitingSince;
    this.waitingSince = now;
  }

  private check(windowMs: number): void {
    this.settle();
    if (this.windowMs < windowMs) return;
    if (this.windowBytes < (this.limit.bytesPerSecond * this.windowMs) / 1000) {
      this.stop();
      this.onStall();
      return;
    }
    this.windowMs = 0;
    this.windowBytes = 0;
  }
}
