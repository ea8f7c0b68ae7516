import type { PortalCallError, PortalErrorCode } from './portal-call.error';

/** Temporal-style retry policy with full jitter (AWS architecture blog, "Exponential Backoff and Jitter"). */
export interface RetryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** Attempts in all, the first included; 0 = unlimited. */
  maximumAttempts: number;
  /** Error codes never retried, whatever their outcome class. */
  nonRetryable?: PortalErrorCode[];
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialIntervalMs: 500,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
  maximumAttempts: 0,
  nonRetryable: [],
};

/** Whether a failed attempt (1-based) may be tried again. */
export function mayRetry(policy: RetryPolicy, error: PortalCallError, attempt: number): boolean {
  if (error.outcome !== 'retriable') return false;
  if (policy.nonRetryable?.includes(error.code)) return false;
  return policy.maximumAttempts === 0 || attempt < policy.maximumAttempts;
}

/**
 * How long to wait before the next attempt: a random time up to the exponential cap (full
 * jitter, so a thousand entities failing together do not retry together), but never sooner than
 * the portal's Retry-After.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  error?: PortalCallError,
  random: () => number = Math.random,
): number {
  const cap = Math.min(
    policy.maximumIntervalMs,
    policy.initialIntervalMs * policy.backoffCoefficient ** Math.max(0, attempt - 1),
  );
  const jittered = Math.floor(random() * cap);
  return Math.max(jittered, error?.retryAfterMs ?? 0);
}
