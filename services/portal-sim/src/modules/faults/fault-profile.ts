/**
 * How one simulated API misbehaves. Every field is optional: an empty profile is a healthy portal.
 * Settable at start-up (PORTAL_SIM_FAULTS) and at run time (PUT /admin/faults/:api).
 */
export interface FaultProfile {
  /** Added latency, uniform between min and max milliseconds. */
  latencyMs?: { min: number; max: number };
  /** Probability (0–1) of each failure kind per call. */
  errorRates?: {
    /** HTTP 500 or 503 with a Vietnamese error page. */
    http5xx?: number;
    /** The call hangs (up to `timeoutHoldMs`) and then the connection is closed. */
    timeout?: number;
    /** The TCP connection is reset without an answer. */
    reset?: number;
    /** HTTP 200 with a body that is not valid JSON. */
    malformed?: number;
  };
  /** Time windows (ISO timestamps) during which the API answers 503. */
  outages?: Array<{ from: string; to: string }>;
  /** A switch: the API is down (503) until set back to false. */
  down?: boolean;
  /** Per client (token, session or address): requests per second, with a burst allowance. */
  rateLimit?: { perSecond: number; burst?: number };
  /** After each successful write, with this probability, silently alter or delete the record. */
  drift?: { rate: number; mode: 'alter' | 'delete' };
  /** How long a `timeout` fault holds the request before closing it (default 30 s). */
  timeoutHoldMs?: number;
}

export type FaultDecision =
  | { kind: 'pass'; delayMs: number }
  | { kind: 'unavailable'; delayMs: number; reason: 'outage' | 'down' }
  | { kind: 'rate-limited'; retryAfterSeconds: number }
  | { kind: 'http5xx'; delayMs: number; status: 500 | 503 }
  | { kind: 'timeout'; holdMs: number }
  | { kind: 'reset'; delayMs: number }
  | { kind: 'malformed'; delayMs: number };

/** Token bucket per client: `perSecond` refill, `burst` capacity. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes a token, or says how many seconds until one is available. */
  take(now: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond)),
    };
  }
}

/** Decides what happens to one call. Pure: time and randomness come in as arguments. */
export function decide(
  profile: FaultProfile,
  now: number,
  random: () => number,
  bucket?: TokenBucket,
): FaultDecision {
  const delayMs = profile.latencyMs
    ? profile.latencyMs.min +
      Math.floor(random() * Math.max(0, profile.latencyMs.max - profile.latencyMs.min))
    : 0;
  if (profile.down) return { kind: 'unavailable', delayMs: 0, reason: 'down' };
  if (profile.outages?.some((w) => now >= Date.parse(w.from) && now < Date.parse(w.to))) {
    return { kind: 'unavailable', delayMs: 0, reason: 'outage' };
  }
  if (bucket) {
    const taken = bucket.take(now);
    if (!taken.ok) return { kind: 'rate-limited', retryAfterSeconds: taken.retryAfterSeconds };
  }
  const rates = profile.errorRates ?? {};
  const roll = random();
  let edge = 0;
  for (const kind of ['http5xx', 'timeout', 'reset', 'malformed'] as const) {
    edge += rates[kind] ?? 0;
    if (roll < edge) {
      if (kind === 'http5xx') return { kind, delayMs, status: random() < 0.5 ? 500 : 503 };
      if (kind === 'timeout') return { kind, holdMs: profile.timeoutHoldMs ?? 30_000 };
      return { kind, delayMs };
    }
  }
  return { kind: 'pass', delayMs };
}
