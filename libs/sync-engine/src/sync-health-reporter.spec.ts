import type { LedgerFiguresReader } from './ledger-figures';
import { SyncHealthReporter } from './sync-health-reporter';
import type { TargetHealthSource } from './sync-health-reporter';

describe('SyncHealthReporter', () => {
  const since = new Date('2025-07-02T03:00:00Z');
  const gateway: TargetHealthSource = {
    target: 'dvcqg',
    targetState: () => 'open',
    breakerStates: () => [
      { operation: 'auth', state: 'closed' },
      { operation: 'DongBoHoSoMC', state: 'open' },
    ],
    targetHold: () => ({
      code: 'PORTAL_AUTH_FAILED',
      message: `login refused ${'x'.repeat(600)}`,
      since,
      until: new Date(since.getTime() + 5000),
    }),
    retryAfterUntil: () => undefined,
    lastSuccessAt: undefined,
    lastFailureAt: since,
  };
  const ledger = {
    read: () =>
      Promise.resolve({
        backlog: { PENDING: 50, RETRYING: 2, REJECTED: 1 },
        oldestPendingSeconds: 12.5,
        outboxUnpublished: 0,
        outboxFailed: 0,
        partsPossiblyDuplicated: 0,
      }),
  } as unknown as LedgerFiguresReader;
  const sent: Array<{ topic: string; key: string; headers: Record<string, string> }> = [];
  const reporter = (consumerLag: () => Promise<number | undefined>) =>
    new SyncHealthReporter({
      producer: {
        send: (topic, messages) => {
          for (const m of messages) sent.push({ topic, key: m.key, headers: m.headers });
          return Promise.resolve();
        },
      },
      service: 'dossier-sync',
      instance: 'i-1',
      gateway,
      ledger,
      consumerLag,
      exchangeRecords: () => ({ pending: 3, lost: 0 }),
      intervalMs: 60_000,
      topic: 'test.sync.health.v2',
    });

  it('says why the target is not called, per operation, with the backlog and the lag', async () => {
    const report = await reporter(() => Promise.resolve(7)).report();
    expect(report).toMatchObject({
      service: 'dossier-sync',
      instance: 'i-1',
      target: 'dvcqg',
      breaker: {
        state: 'open',
        operations: [
          { operation: 'auth', state: 'closed' },
          { operation: 'DongBoHoSoMC', state: 'open' },
        ],
      },
      hold: {
        code: 'PORTAL_AUTH_FAILED',
        since: since.toISOString(),
        nextProbeAt: '2025-07-02T03:00:05.000Z',
      },
      retryAfterUntil: null,
      paused: false,
      backlog: { pending: 50, retrying: 2, rejected: 1 },
      oldestPendingAgeSeconds: 12.5,
      consumerLag: 7,
      exchangeRecords: { pending: 3, lost: 0 },
      lastSuccessAt: null,
      lastFailureAt: since.toISOString(),
    });
    expect(report.hold?.message.length).toBe(500);
    expect(sent.at(-1)).toMatchObject({
      topic: 'test.sync.health.v2',
      key: 'dossier-sync:i-1:dvcqg',
      headers: expect.objectContaining({ ce_type: 'vn.lienthong.sync.health.v2' }) as unknown,
    });
  });

  it('reports a lag it could not read as unknown (null), not as zero', async () => {
    const report = await reporter(() => Promise.reject(new Error('broker away'))).report();
    expect(report.consumerLag).toBeNull();
  });
});
