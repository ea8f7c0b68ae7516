import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Bottleneck from 'bottleneck';
import CircuitBreaker from 'opossum';
import { PortalCallError, asPortalCallError } from './portal-call.error';
import type { CallOutcome } from './portal-call.error';
import { mayRetry, retryDelayMs } from './retry-policy';
import type { RetryPolicy } from './retry-policy';
import { sha256 } from './exchange-record';
import type { ExchangeRecorder } from './exchange-record';
import { BREAKER_STATE_VALUE } from './resilience.metrics';
import type { BreakerState, ResilienceMetrics } from './resilience.metrics';

export interface BreakerOptions {
  /** A call slower than this fails (and its HTTP request is aborted). */
  timeoutMs: number;
  /** Calls in the rolling window before the breaker may open. */
  volumeThreshold: number;
  /** Failure percentage in the window that opens the breaker. */
  errorThresholdPercentage: number;
  /** Time open before a half-open probe. */
  resetTimeoutMs: number;
  rollingCountTimeoutMs: number;
}

export interface GatewayOptions {
  /** The portal, e.g. dvcqg. */
  target: string;
  breaker: BreakerOptions;
  retry: RetryPolicy;
  /** Calls per second to this target (all operations together); omit for none. */
  rateLimitPerSecond?: number;
  /** Bulkhead: calls in flight to this target at most. */
  maxConcurrent: number;
}

/** What the call function reports about the wire, for the exchange record. */
export interface WireNote {
  httpStatus?: number;
  portalCode?: string;
  request?: string | Buffer;
  response?: string | Buffer;
}

export interface AttemptContext {
  attempt: number;
  correlationId: string;
  /** Aborts the HTTP request when the call times out. */
  signal: AbortSignal;
  /** Tell the gateway what went over the wire (status, portal code, bodies to digest). */
  note(note: WireNote): void;
}

export interface CallOptions {
  correlationId: string;
  /** Retry in-process by the policy (lookups, tokens). The sync dispatcher retries through its ledger instead. */
  retry?: boolean;
}

export interface BreakerStateChange {
  target: string;
  operation: string;
  state: BreakerState;
  at: Date;
}

/**
 * The one way code calls a portal. Per target: a rate limiter and a bulkhead (bottleneck); per
 * (target, operation): an opossum circuit breaker. Business rejections, 4xx and 429 never count
 * as breaker failures; an open breaker answers at once with a `breaker-open` error. Every attempt
 * leaves an exchange record and a duration sample; every breaker change a metric and an event
 * (`breaker-state`).
 */
export class PortalGateway extends EventEmitter {
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<unknown>], unknown>>();
  private readonly limiter: Bottleneck;
  private pausedUntil = 0;

  constructor(
    readonly options: GatewayOptions,
    private readonly recorder: ExchangeRecorder,
    private readonly metrics: ResilienceMetrics,
  ) {
    super();
    this.limiter = new Bottleneck({
      maxConcurrent: options.maxConcurrent,
      minTime: options.rateLimitPerSecond ? Math.ceil(1000 / options.rateLimitPerSecond) : 0,
    });
  }

  get target(): string {
    return this.options.target;
  }

  breakerState(operation: string): BreakerState {
    const b = this.breakers.get(operation);
    return !b ? 'closed' : b.opened ? 'open' : b.halfOpen ? 'half-open' : 'closed';
  }

  /** The worst state over the target's operations: what readiness and health report. */
  targetState(): BreakerState {
    const states = [...this.breakers.keys()].map((op) => this.breakerState(op));
    return states.includes('open') ? 'open' : states.includes('half-open') ? 'half-open' : 'closed';
  }

  private breaker(operation: string): CircuitBreaker<[() => Promise<unknown>], unknown> {
    let breaker = this.breakers.get(operation);
    if (breaker) return breaker;
    const b = this.options.breaker;
    breaker = new CircuitBreaker((run: () => Promise<unknown>) => run(), {
      timeout: b.timeoutMs,
      volumeThreshold: b.volumeThreshold,
      errorThresholdPercentage: b.errorThresholdPercentage,
      resetTimeout: b.resetTimeoutMs,
      rollingCountTimeout: b.rollingCountTimeoutMs,
      // Returning true means "not a failure of the portal": its own rejections and rate limits.
      errorFilter: (err: unknown) =>
        err instanceof PortalCallError &&
        (err.outcome === 'permanent' || err.code === 'PORTAL_RATE_LIMITED'),
    });
    const changed = (state: BreakerState) => {
      this.metrics.breakerState.set({ target: this.target, operation }, BREAKER_STATE_VALUE[state]);
      this.metrics.breakerTransitions.inc({ target: this.target, operation, to: state });
      const event: BreakerStateChange = { target: this.target, operation, state, at: new Date() };
      this.emit('breaker-state', event);
    };
    breaker.on('open', () => changed('open'));
    breaker.on('halfOpen', () => changed('half-open'));
    breaker.on('close', () => changed('closed'));
    this.metrics.breakerState.set({ target: this.target, operation }, 0);
    this.breakers.set(operation, breaker);
    return breaker;
  }

  async call<T>(
    operation: string,
    fn: (ctx: AttemptContext) => Promise<T>,
    options: CallOptions,
  ): Promise<T> {
    const breaker = this.breaker(operation);
    for (let attempt = 1; ; attempt += 1) {
      // A portal that said Retry-After gets no call from us before then, from any caller.
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await sleep(wait);
      const startedAt = new Date();
      let note: WireNote = {};
      const ctx: AttemptContext = {
        attempt,
        correlationId: options.correlationId,
        signal: AbortSignal.timeout(this.options.breaker.timeoutMs),
        note: (n) => {
          note = { ...note, ...n };
        },
      };
      const run = () => fn(ctx);
      try {
        const value = (
          breaker.opened
            ? await breaker.fire(run)
            : await this.limiter.schedule(() => breaker.fire(run))
        ) as T;
        this.finish(operation, startedAt, attempt, options.correlationId, 'success', note);
        return value;
      } catch (err) {
        const error = asPortalCallError(err);
        if (error.code === 'PORTAL_RATE_LIMITED' && error.retryAfterMs) {
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + error.retryAfterMs);
        }
        this.finish(
          operation,
          startedAt,
          attempt,
          options.correlationId,
          error.outcome,
          note,
          error,
        );
        if (
          !options.retry ||
          error.outcome === 'breaker-open' ||
          !mayRetry(this.options.retry, error, attempt)
        )
          throw error;
        await sleep(retryDelayMs(this.options.retry, attempt, error));
      }
    }
  }

  private finish(
    operation: string,
    startedAt: Date,
    attempt: number,
    correlationId: string,
    outcome: CallOutcome,
    note: WireNote,
    error?: PortalCallError,
  ): void {
    const endedAt = new Date();
    this.metrics.callDuration.observe(
      { target: this.target, operation, outcome },
      (endedAt.getTime() - startedAt.getTime()) / 1000,
    );
    const httpStatus = note.httpStatus ?? error?.httpStatus;
    const portalCode = note.portalCode ?? error?.portalCode;
    const requestSha256 = sha256(note.request);
    const responseSha256 = sha256(note.response);
    this.recorder.record({
      target: this.target,
      operation,
      startedAt,
      endedAt,
      outcome,
      attempt,
      correlationId,
      ...(httpStatus !== undefined ? { httpStatus } : {}),
      ...(portalCode !== undefined ? { portalCode } : {}),
      ...(error ? { errorCode: error.code } : {}),
      ...(requestSha256 ? { requestSha256 } : {}),
      ...(responseSha256 ? { responseSha256 } : {}),
    });
  }

  async shutdown(): Promise<void> {
    for (const b of this.breakers.values()) b.shutdown();
    await this.limiter.stop({ dropWaitingJobs: false });
    await this.recorder.flush();
  }
}
