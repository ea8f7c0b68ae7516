import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { expectEventually } from '@lienthong/testing';
import { InMemoryExchangeRecorder, PostgresExchangeRecorder } from './exchange-record';
import { PortalCallError } from './portal-call.error';
import { PortalGateway } from './portal-gateway';
import type { BreakerStateChange, GatewayOptions, TargetHoldChange } from './portal-gateway';
import { ResilienceMetrics } from './resilience.metrics';

function gateway(overrides: Partial<GatewayOptions> = {}) {
  const recorder = new InMemoryExchangeRecorder();
  const registry = new Registry();
  const gw = new PortalGateway(
    {
      target: 'dvcqg',
      breaker: {
        timeoutMs: 200,
        volumeThreshold: 4,
        errorThresholdPercentage: 50,
        resetTimeoutMs: 300,
        rollingCountTimeoutMs: 10_000,
      },
      retry: {
        initialIntervalMs: 10,
        backoffCoefficient: 2,
        maximumIntervalMs: 50,
        maximumAttempts: 3,
      },
      maxConcurrent: 4,
      ...overrides,
    },
    recorder,
    new ResilienceMetrics(registry),
  );
  const events: BreakerStateChange[] = [];
  gw.on('breaker-state', (e: BreakerStateChange) => events.push(e));
  const holds: TargetHoldChange[] = [];
  gw.on('target-hold', (e: TargetHoldChange) => holds.push(e));
  return { gw, recorder, registry, events, holds };
}

const unavailable = () =>
  Promise.reject(new PortalCallError('PORTAL_UNAVAILABLE', '503', { httpStatus: 503 }));
const rejected = () =>
  Promise.reject(new PortalCallError('PORTAL_REJECTED', 'bad date', { portalCode: '02' }));

describe('PortalGateway', () => {
  it('opens on portal failures, fails fast while open, probes and closes on recovery', async () => {
    const { gw, events, registry, recorder } = gateway();
    for (let i = 0; i < 4; i += 1) {
      await expect(gw.call('sync', unavailable, { correlationId: `c${i}` })).rejects.toMatchObject({
        outcome: 'retriable',
      });
    }
    expect(gw.breakerState('sync')).toBe('open');
    let called = false;
    await expect(
      gw.call('sync', () => Promise.resolve((called = true)), { correlationId: 'fast' }),
    ).rejects.toMatchObject({ outcome: 'deferred', code: 'BREAKER_OPEN' });
    expect(called).toBe(false);
    expect(await registry.getSingleMetricAsString('lienthong_portal_breaker_state')).toContain(
      'lienthong_portal_breaker_state{target="dvcqg",operation="sync"} 2',
    );
    await expectEventually(() => expect(gw.breakerState('sync')).toBe('half-open'), {
      timeoutMs: 2000,
      intervalMs: 20,
    });
    await expect(
      gw.call('sync', () => Promise.resolve('ok'), { correlationId: 'probe' }),
    ).resolves.toBe('ok');
    expect(gw.breakerState('sync')).toBe('closed');
    expect(events.map((e) => e.state)).toEqual(['open', 'half-open', 'closed']);
    expect(recorder.records.map((r) => r.outcome)).toEqual([
      'retriable',
      'retriable',
      'retriable',
      'retriable',
      'deferred',
      'success',
    ]);
    await gw.shutdown();
  });

  it('never opens on business rejections (4xx), however many', async () => {
    const { gw } = gateway();
    for (let i = 0; i < 20; i += 1) {
      await expect(gw.call('sync', rejected, { correlationId: `r${i}` })).rejects.toMatchObject({
        outcome: 'permanent',
        portalCode: '02',
      });
    }
    expect(gw.breakerState('sync')).toBe('closed');
    await gw.shutdown();
  });

  it('retries in-process when asked, and not a permanent rejection', async () => {
    const { gw, recorder } = gateway();
    let n = 0;
    const flaky = () => (++n < 3 ? unavailable() : Promise.resolve('third time'));
    await expect(gw.call('lookup', flaky, { correlationId: 'x', retry: true })).resolves.toBe(
      'third time',
    );
    await expect(
      gw.call('lookup', rejected, { correlationId: 'y', retry: true }),
    ).rejects.toMatchObject({ outcome: 'permanent' });
    expect(recorder.records.map((r) => `${r.attempt}:${r.outcome}`)).toEqual([
      '1:retriable',
      '2:retriable',
      '3:success',
      '1:permanent',
    ]);
    await gw.shutdown();
  });

  it('times a slow call out and aborts its request', async () => {
    const { gw } = gateway();
    let aborted = false;
    const slow = ({ signal }: { signal: AbortSignal }) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => (aborted = true));
        setTimeout(resolve, 1000);
      });
    await expect(gw.call('sync', slow, { correlationId: 'slow' })).rejects.toMatchObject({
      code: 'PORTAL_TIMEOUT',
      outcome: 'retriable',
    });
    await expectEventually(() => expect(aborted).toBe(true), { timeoutMs: 2000, intervalMs: 10 });
    await gw.shutdown();
  });

  it('holds the whole target on a credential failure, calls nothing while held, probes, and lifts the hold on success', async () => {
    const { gw, holds, registry } = gateway({ holdMs: 150 });
    const refused = () =>
      Promise.reject(
        new PortalCallError('PORTAL_AUTH_FAILED', 'login refused', { httpStatus: 401 }),
      );
    await expect(
      gw.call('auth', refused, { correlationId: 'a', retry: true }),
    ).rejects.toMatchObject({
      outcome: 'hold',
    });
    expect(gw.targetHold()?.code).toBe('PORTAL_AUTH_FAILED');
    expect(gw.blocked()).toBe(true);
    expect(gw.breakerState('auth')).toBe('closed');
    let called = 0;
    const ok = () => Promise.resolve((called += 1));
    await expect(gw.call('sync', ok, { correlationId: 'b' })).rejects.toMatchObject({
      code: 'TARGET_HELD',
      outcome: 'deferred',
    });
    expect(called).toBe(0);
    expect(await registry.getSingleMetricAsString('lienthong_portal_target_held')).toContain(
      'code="PORTAL_AUTH_FAILED"} 1',
    );
    // After the hold time one probe goes through; it succeeds, the hold is lifted.
    await expectEventually(() => expect(gw.blocked()).toBe(false), {
      timeoutMs: 2000,
      intervalMs: 10,
    });
    await expect(gw.call('sync', ok, { correlationId: 'probe' })).resolves.toBe(1);
    expect(gw.targetHold()).toBeUndefined();
    expect(holds.map((h) => h.hold?.code ?? 'lifted')).toEqual(['PORTAL_AUTH_FAILED', 'lifted']);
    await gw.shutdown();
  });

  it('caps a long Retry-After and pauses only this target, failing fast meanwhile', async () => {
    const { gw } = gateway({ maxRetryAfterMs: 300 });
    const limited = () =>
      Promise.reject(
        new PortalCallError('PORTAL_RATE_LIMITED', '429', {
          httpStatus: 429,
          retryAfterMs: 86_400_000,
        }),
      );
    await expect(gw.call('sync', limited, { correlationId: 'r' })).rejects.toMatchObject({
      retryAfterMs: 300,
    });
    expect(gw.blocked()).toBe(true);
    const started = Date.now();
    await expect(
      gw.call('sync', () => Promise.resolve(1), { correlationId: 's' }),
    ).rejects.toMatchObject({
      code: 'TARGET_PAUSED',
      outcome: 'deferred',
    });
    expect(Date.now() - started).toBeLessThan(100);
    const other = gateway().gw;
    await expect(
      other.call('sync', () => Promise.resolve(2), { correlationId: 'o' }),
    ).resolves.toBe(2);
    await expectEventually(() => expect(gw.blocked()).toBe(false), {
      timeoutMs: 2000,
      intervalMs: 20,
    });
    await gw.shutdown();
    await other.shutdown();
  });

  it('starts the call timeout when the call leaves the rate-limit queue', async () => {
    // 5 calls/s: the fourth call waits ~600 ms for its slot, far past the 200 ms timeout.
    const { gw } = gateway({ rateLimitPerSecond: 5 });
    const quick = ({ signal }: { signal: AbortSignal }) =>
      new Promise((resolve, reject) => {
        if (signal.aborted) reject(new DOMException('timed out', 'TimeoutError'));
        else resolve('ok');
      });
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((i) => gw.call('sync', quick, { correlationId: `q${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    await gw.shutdown();
  });

  it('interrupts an in-process retry wait on shutdown', async () => {
    const { gw } = gateway({
      retry: {
        initialIntervalMs: 60_000,
        backoffCoefficient: 1,
        maximumIntervalMs: 60_000,
        maximumAttempts: 5,
      },
    });
    let attempts = 0;
    const failing = () => {
      attempts += 1;
      return unavailable();
    };
    const call = gw.call('lookup', failing, { correlationId: 'w', retry: true });
    const settled = expect(call).rejects.toMatchObject({ code: 'GATEWAY_STOPPED' });
    await expectEventually(() => expect(attempts).toBe(1), { timeoutMs: 2000, intervalMs: 10 });
    const started = Date.now();
    await gw.shutdown();
    await settled;
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('PostgresExchangeRecorder', () => {
  it('counts every record it cannot keep, never drops one silently', async () => {
    const pool = { query: () => Promise.reject(new Error('database down')) } as unknown as Pool;
    const errors: unknown[] = [];
    const recorder = new PostgresExchangeRecorder(
      pool,
      'portal_exchange',
      (e) => errors.push(e),
      60_000,
      2,
    );
    const lost: number[] = [];
    recorder.onLost((n) => lost.push(n));
    const record = {
      target: 'dvcqg',
      operation: 'sync',
      startedAt: new Date(),
      endedAt: new Date(),
      outcome: 'success' as const,
      attempt: 1,
      correlationId: 'c',
    };
    for (let i = 0; i < 130; i += 1) recorder.record(record);
    await recorder.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(recorder.failing).toBe(true);
    // The buffer holds 100 (maxBuffer 2 × 50); the rest are counted as lost, then the rest at close.
    expect(recorder.lost).toBe(30);
    await recorder.close();
    expect(recorder.lost).toBe(130);
    expect(lost.reduce((a, b) => a + b, 0)).toBe(130);
  });
});
