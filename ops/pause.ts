import { setTimeout as sleep } from 'node:timers/promises';

/** Wait `ms`, or less when `signal` aborts: a poll loop's pause, which ends quietly (the loop checks the signal). */
export const pause = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal }).catch(() => undefined);
