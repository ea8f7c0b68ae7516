import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { InMemoryExchangeRecorder } from './exchange-record';
import { PortalCallError } from './portal-call.error';
import { PortalGateway } from './portal-gateway';
import type { BreakerStateChange } from './portal-gateway';
import { ResilienceMetrics } from './resilience.metrics';

function gateway() {
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
    },
    recorder,
    new ResilienceMetrics(registry),
  );
  const events: BreakerStateChange[] = [];
  gw.on('breaker-state', (e: BreakerStateChange) => events.push(e));
  return { gw, recorder, registry, events };
}

const unavailable = () =>
  Promise.reject(PortalCallError.retriable('PORTAL_UNAVAILABLE', '503', { httpStatus: 503 }));
const rejected = () =>
  Promise.reject(PortalCallError.permanent('PORTAL_REJECTED', 'bad date', { portalCode: '02' }));

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
    ).rejects.toMatchObject({ outcome: 'breaker-open', code: 'BREAKER_OPEN' });
    expect(called).toBe(false);
    expect(await registry.getSingleMetricAsString('lienthong_portal_breaker_state')).toContain(
      'lienthong_portal_breaker_state{target="dvcqg",operation="sync"} 2',
    );
    await sleep(350);
    expect(gw.breakerState('sync')).toBe('half-open');
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
      'breaker-open',
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
    await sleep(50);
    expect(aborted).toBe(true);
    await gw.shutdown();
  });
});
