import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Bottleneck from 'bottleneck';
import pLimit from 'p-limit';
import CircuitBreaker from 'opossum';
import { PortalCallError, asPortalCallError } from './portal-call.error';
import type { CallOutcome, PortalErrorCode } from './portal-call.error';
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
  /** A portal's Retry-After is honoured up to this (default 60 s); a longer one is capped. */
  maxRetryAfterMs?: number;
  /** First hold after a credential or endpoint failure (default 5 s); doubles while probes fail. */
  holdMs?: number;
  /** Longest time between two probes of a held target (default 60 s). */
  maxHoldMs?: number;
}

/** Why and since when a target is not being called. */
export interface TargetHold {
  code: PortalErrorCode;
  message: string;
  since: Date;
  /** The next probe call goes through after this. */
  until: Date;
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

/** A change of a target's hold: `hold` undefined when it was lifted (a probe succeeded). */
/** An operator's pause of the target (ops command pause-target). */
export interface OperatorPause {
  by: string;
  since: Date;
}

export interface TargetHoldChange {
  target: string;
  hold: TargetHold | undefined;
  at: Date;
}

export interface BreakerStateChange {
  target: string;
  operation: string;
  state: BreakerState;
  at: Date;
}

/**
 * The one way code calls a portal. Per target: a bulkhead (p-limit) and, when the portal has a
 * quota, a rate limiter (bottleneck, spacing calls `1000 / rate` ms apart); per
 * (target, operation): an opossum circuit breaker. Business rejections, 4xx and 429 never count
 * as breaker failures. The target is not called at all (a `deferred` error, at once) while a
 * breaker is open, while the portal's Retry-After runs (capped), or while the target is held after
 * a credential or endpoint failure (then one probe call goes through now and then, and a success
 * lifts the hold). A call's timeout starts when it leaves the rate-limit queue. `shutdown()`
 * interrupts every wait. Every attempt leaves an exchange record and a duration sample; every
 * breaker change and hold change a metric and an event (`breaker-state`, `target-hold`).
 */
export class PortalGateway extends EventEmitter {
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<unknown>], unknown>>();
  /**
   * Calls in flight. Not bottleneck's maxConcurrent: with a queue, its scheduling added about 70
   * ms to each call that itself took 5–10 ms (measured under bench:dossier, 32 pushes in flight,
   * 16 slots), which capped pushes near 110 dossiers/s.
   */
  private readonly bulkhead: pLimit.Limit;
  private readonly spacing: Bottleneck | undefined;
  private readonly scheduled = new Set<Promise<unknown>>();
  private pausedUntil = 0;
  private operatorPause: OperatorPause | undefined;
  private hold: TargetHold | undefined;
  private holdMs: number;
  private probing = false;
  private readonly stopping = new AbortController();
  /** The last call that reached the portal and succeeded, and the last that failed for a reason other than a business rejection. */
  lastSuccessAt: Date | undefined;
  lastFailureAt: Date | undefined;

  constructor(
    readonly options: GatewayOptions,
    private readonly recorder: ExchangeRecorder,
    private readonly metrics: ResilienceMetrics,
  ) {
    super();
    this.bulkhead = pLimit(options.maxConcurrent);
    this.spacing = options.rateLimitPerSecond
      ? new Bottleneck({ minTime: Math.ceil(1000 / options.rateLimitPerSecond) })
      : undefined;
    this.holdMs = options.holdMs ?? 5000;
    recorder.onLost((n) => this.metrics.exchangeRecordsLost.inc({ target: this.target }, n));
  }

  get target(): string {
    return this.options.target;
  }

  breakerState(operation: string): BreakerState {
    const b = this.breakers.get(operation);
    return !b ? 'closed' : b.opened ? 'open' : b.halfOpen ? 'half-open' : 'closed';
  }

  /** The worst state over the target's operations: what health reports. */
  targetState(): BreakerState {
    const states = [...this.breakers.keys()].map((op) => this.breakerState(op));
    return states.includes('open') ? 'open' : states.includes('half-open') ? 'half-open' : 'closed';
  }

  /** Each operation's breaker, for health reports. */
  breakerStates(): Array<{ operation: string; state: BreakerState }> {
    return [...this.breakers.keys()].map((operation) => ({
      operation,
      state: this.breakerState(operation),
    }));
  }

  /** Until when the portal asked us not to call (Retry-After, capped), if that is still running. */
  retryAfterUntil(): Date | undefined {
    return Date.now() < this.pausedUntil ? new Date(this.pausedUntil) : undefined;
  }

  /** Pauses the target for an operator (undefined: resumes it). Calls are deferred meanwhile. */
  pauseByOperator(pause: OperatorPause | undefined): void {
    this.operatorPause = pause;
  }

  /** The operator's pause in force, if any. */
  operatorPaused(): OperatorPause | undefined {
    return this.operatorPause;
  }

  /** The hold in force, if the target is held (credentials, endpoint). */
  targetHold(): TargetHold | undefined {
    return this.hold;
  }

  /**
   * True while a push now would not reach the portal: a breaker open, the portal's Retry-After
   * running, an operator's pause, or a hold whose next probe is not due. Dispatchers claim
   * nothing meanwhile.
   */
  blocked(): boolean {
    const now = Date.now();
    if (this.targetState() === 'open' || now < this.pausedUntil || this.operatorPause) return true;
    return this.hold !== undefined && (this.probing || now < this.hold.until.getTime());
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
      // Returning true means "not a failure of the portal's health": its own rejections, rate
      // limits, and what a hold handles (credentials, endpoint).
      errorFilter: (err: unknown) =>
        err instanceof PortalCallError &&
        (err.outcome === 'permanent' ||
          err.outcome === 'hold' ||
          err.code === 'PORTAL_RATE_LIMITED'),
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

  /** Why this call must not reach the portal now, if it must not. Claims the probe slot of a held target. */
  private refusal(): PortalCallError | undefined {
    if (this.stopping.signal.aborted)
      return new PortalCallError('GATEWAY_STOPPED', 'the service is shutting down');
    const now = Date.now();
    if (this.operatorPause)
      return new PortalCallError(
        'TARGET_PAUSED',
        `paused by operator ${this.operatorPause.by} since ${this.operatorPause.since.toISOString()}`,
      );
    if (now < this.pausedUntil)
      return new PortalCallError(
        'TARGET_PAUSED',
        `the portal asked us to wait (Retry-After) until ${new Date(this.pausedUntil).toISOString()}`,
        { retryAfterMs: this.pausedUntil - now },
      );
    if (this.hold) {
      if (this.probing || now < this.hold.until.getTime())
        return new PortalCallError('TARGET_HELD', `target held: ${this.hold.code}`);
      this.probing = true;
    }
    return undefined;
  }

  private holdAfter(error: PortalCallError): void {
    const now = new Date();
    const since = this.hold?.since ?? now;
    if (this.hold) this.holdMs = Math.min(this.holdMs * 2, this.options.maxHoldMs ?? 60_000);
    if (this.hold && this.hold.code !== error.code)
      this.metrics.targetHeld.set({ target: this.target, code: this.hold.code }, 0);
    this.hold = {
      code: error.code,
      message: error.message,
      since,
      until: new Date(now.getTime() + this.holdMs),
    };
    this.metrics.targetHeld.set({ target: this.target, code: error.code }, 1);
    const event: TargetHoldChange = { target: this.target, hold: this.hold, at: now };
    this.emit('target-hold', event);
  }

  private release(): void {
    if (!this.hold) return;
    this.metrics.targetHeld.set({ target: this.target, code: this.hold.code }, 0);
    this.hold = undefined;
    this.holdMs = this.options.holdMs ?? 5000;
    const event: TargetHoldChange = { target: this.target, hold: undefined, at: new Date() };
    this.emit('target-hold', event);
  }

  async call<T>(
    operation: string,
    fn: (ctx: AttemptContext) => Promise<T>,
    options: CallOptions,
  ): Promise<T> {
    const breaker = this.breaker(operation);
    const maxRetryAfterMs = this.options.maxRetryAfterMs ?? 60_000;
    for (let attempt = 1; ; attempt += 1) {
      const refused = this.refusal();
      // An in-process retry (lookups, logins) waits out the portal's Retry-After, interruptibly;
      // a push fails fast and waits in the ledger instead.
      if (refused?.code === 'TARGET_PAUSED' && options.retry) {
        await this.wait(refused.retryAfterMs ?? 0);
        attempt -= 1;
        continue;
      }
      if (refused) {
        this.finish(
          operation,
          new Date(),
          attempt,
          options.correlationId,
          refused.outcome,
          {},
          refused,
        );
        throw refused;
      }
      const wasProbe = this.probing;
      let startedAt = new Date();
      let note: WireNote = {};
      // Built when the call leaves the rate-limit queue: time spent waiting for a slot is not
      // time the portal had to answer.
      const run = () => {
        startedAt = new Date();
        const ctx: AttemptContext = {
          attempt,
          correlationId: options.correlationId,
          signal: AbortSignal.any([
            AbortSignal.timeout(this.options.breaker.timeoutMs),
            this.stopping.signal,
          ]),
          note: (n) => {
            note = { ...note, ...n };
          },
        };
        return fn(ctx);
      };
      try {
        const value = (
          breaker.opened ? await breaker.fire(run) : await this.schedule(() => breaker.fire(run))
        ) as T;
        this.release();
        this.lastSuccessAt = new Date();
        this.finish(operation, startedAt, attempt, options.correlationId, 'success', note);
        return value;
      } catch (err) {
        const error = asPortalCallError(err).withRetryAfterAtMost(maxRetryAfterMs);
        if (error.code === 'PORTAL_RATE_LIMITED' && error.retryAfterMs) {
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + error.retryAfterMs);
        }
        if (error.outcome !== 'permanent' && error.outcome !== 'deferred')
          this.lastFailureAt = new Date();
        if (error.outcome === 'hold') this.holdAfter(error);
        else if (wasProbe && error.outcome !== 'deferred') this.release();
        this.finish(
          operation,
          startedAt,
          attempt,
          options.correlationId,
          error.outcome,
          note,
          error,
        );
        // mayRetry refuses everything but `retriable` (holds and deferrals are never retried here).
        if (!options.retry || !mayRetry(this.options.retry, error, attempt)) throw error;
        await this.wait(retryDelayMs(this.options.retry, attempt, error));
      } finally {
        if (wasProbe) this.probing = false;
      }
    }
  }

  /** A wait that shutdown interrupts (GATEWAY_STOPPED). */
  private async wait(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
    } catch {
      throw new PortalCallError('GATEWAY_STOPPED', 'the service is shutting down');
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

  /** Runs a call when a bulkhead slot is free and, under a quota, when its spacing allows. */
  private schedule<T>(job: () => Promise<T>): Promise<T> {
    const spacing = this.spacing;
    const queued = this.bulkhead(() => (spacing ? spacing.schedule(job) : job()));
    this.scheduled.add(queued);
    void queued.finally(() => this.scheduled.delete(queued)).catch(() => undefined);
    return queued;
  }

  /** Interrupts every wait and in-flight call, then flushes the exchange records. */
  async shutdown(): Promise<void> {
    this.stopping.abort();
    for (const b of this.breakers.values()) b.shutdown();
    await Promise.allSettled([...this.scheduled]);
    await this.spacing?.stop({ dropWaitingJobs: false });
    await this.recorder.flush();
  }
}
