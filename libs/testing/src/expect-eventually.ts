import { setTimeout as delay } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** Wait between attempts (ms). */
  intervalMs?: number;
}

/**
 * Runs `assertion` until it stops throwing or the deadline passes; then rethrows its last error.
 * Integration tests use this instead of sleeping: they wait exactly as long as the system needs.
 */
export async function expectEventually<T>(
  assertion: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 100 }: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await assertion();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`expectEventually: still failing after ${timeoutMs} ms: ${reason}`, {
        cause: lastError,
      });
    }
    await delay(intervalMs);
  }
}
