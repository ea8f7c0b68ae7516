import { ContractValidator, EVENT_TYPES, TOPICS, readEvent } from '@lienthong/contracts';
import { IndicatorsPublisher, runningMonth } from './indicators-publisher';

describe('runningMonth', () => {
  it('is the Vietnam month of the moment (UTC+7), 1st to last day, measured today', () => {
    // 22:40 UTC on 30 November is 05:40 on 1 December in Vietnam.
    expect(runningMonth(new Date('2026-11-30T22:40:00Z'))).toEqual({
      from: '2026-12-01',
      to: '2026-12-31',
      measuredOn: '2026-12-01',
    });
    expect(runningMonth(new Date('2028-02-15T03:00:00Z'))).toEqual({
      from: '2028-02-01',
      to: '2028-02-29',
      measuredOn: '2028-02-15',
    });
  });
});

describe('IndicatorsPublisher', () => {
  it('publishes one valid CommuneIndicators per commune, keyed by its commune', async () => {
    const sent: Array<{ key: string; value: Buffer; headers: Record<string, string> }> = [];
    const publisher = new IndicatorsPublisher({
      producer: {
        send: (_topic, messages) => {
          sent.push(...messages);
          return Promise.resolve();
        },
      },
      db: { query: () => Promise.resolve([] as never) },
      service: 'dossier-sync',
      domain: 'dossier',
      intervalMs: 0,
      compute: (_db, period) => {
        expect(period.measuredOn).toBe('2025-07-11');
        return Promise.resolve([
          {
            communeCode: '19753',
            received: 3,
            synced: 3,
            finishedEarly: 1,
            finishedOnTime: 1,
            finishedLate: 0,
            overdueOpen: 0,
            inProgress: 1,
            online: 2,
            digitised: 1,
            supplementRequested: 0,
            stopped: 0,
          },
        ]);
      },
    });
    expect(await publisher.publish(new Date('2025-07-11T03:00:00Z'))).toBe(1);
    expect(sent.map((m) => m.key)).toEqual(['19753']);
    const data = JSON.parse(sent[0]?.value.toString('utf8') ?? '{}') as Record<string, unknown>;
    expect(new ContractValidator().validate(EVENT_TYPES.CommuneIndicators, data).ok).toBe(true);
    // As a consumer of the topic reads it (type on its topic, subject = the payload's key).
    const read = readEvent(sent[0] as never, TOPICS.syncIndicators, new ContractValidator());
    expect(read.ok).toBe(true);
    expect(data).toMatchObject({
      period: { from: '2025-07-01', to: '2025-07-31' },
      measuredOn: '2025-07-11',
    });
  });
});
