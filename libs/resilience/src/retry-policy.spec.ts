import { PortalCallError } from './portal-call.error';
import { mayRetry, retryDelayMs } from './retry-policy';
import type { RetryPolicy } from './retry-policy';

const policy: RetryPolicy = {
  initialIntervalMs: 100,
  backoffCoefficient: 2,
  maximumIntervalMs: 1000,
  maximumAttempts: 5,
  nonRetryable: ['PORTAL_AUTH_FAILED'],
};
const unavailable = new PortalCallError('PORTAL_UNAVAILABLE', '503');

describe('retry policy', () => {
  it('grows the cap exponentially up to the maximum interval, with full jitter below it', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(policy, a, undefined, () => 0.999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(retryDelayMs(policy, 3, undefined, () => 0)).toBe(0);
  });

  it('never retries sooner than Retry-After', () => {
    const limited = new PortalCallError('PORTAL_RATE_LIMITED', '429', { retryAfterMs: 2000 });
    expect(retryDelayMs(policy, 1, limited, () => 0.5)).toBe(2000);
  });

  it('retries retriable failures up to the attempt limit, never permanent or non-retryable ones', () => {
    expect(mayRetry(policy, unavailable, 4)).toBe(true);
    expect(mayRetry(policy, unavailable, 5)).toBe(false);
    expect(mayRetry(policy, new PortalCallError('PORTAL_REJECTED', 'no'), 1)).toBe(false);
    expect(mayRetry(policy, new PortalCallError('PORTAL_AUTH_FAILED', 'no'), 1)).toBe(false);
    expect(mayRetry({ ...policy, maximumAttempts: 0 }, unavailable, 1000)).toBe(true);
  });
});
