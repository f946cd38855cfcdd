/** Harness progress on stderr: node:test shows a test file's stderr live, and minutes of silence during a debootstrap look like a hang. */
const started = Date.now();

export function progress(message: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[vm-harness ${elapsed}s] ${message}\n`);
}
