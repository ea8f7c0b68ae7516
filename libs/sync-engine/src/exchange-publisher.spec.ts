import { ContractValidator, EVENT_TYPES, TOPICS, readEvent } from '@lienthong/contracts';
import type { ExchangeRecord } from '@lienthong/resilience';
import { ExchangePublisher } from './exchange-publisher';

const record = (i: number, extra: Partial<ExchangeRecord> = {}): ExchangeRecord => ({
  target: 'dvcqg',
  operation: 'DongBoHoSoMC',
  startedAt: new Date(Date.UTC(2025, 6, 2, 3, 0, i)),
  endedAt: new Date(Date.UTC(2025, 6, 2, 3, 0, i) + 140),
  outcome: 'success',
  attempt: 1,
  correlationId: `dossier:H56.14-250702-${String(i).padStart(4, '0')}:3:1`,
  httpStatus: 200,
  requestSha256: 'a'.repeat(64),
  responseSha256: 'b'.repeat(64),
  ...extra,
});

describe('ExchangePublisher', () => {
  const validator = new ContractValidator();

  it('publishes each exchange as a valid PortalExchange, keyed by its correlation id', async () => {
    const sent: Array<{
      topic: string;
      key: string;
      value: Buffer;
      headers: Record<string, string>;
    }> = [];
    const publisher = new ExchangePublisher({
      producer: {
        send: (topic, messages) => {
          sent.push(...messages.map((m) => ({ topic, ...m })));
          return Promise.resolve();
        },
      },
      service: 'dossier-sync',
      instance: 'dossier-sync-1',
      topic: 'test.sync.exchanges.v1',
    });
    publisher.add(record(1));
    publisher.add(
      record(2, { outcome: 'retriable', httpStatus: 429, errorCode: 'PORTAL_RATE_LIMITED' }),
    );
    await publisher.flush();
    expect(sent.map((m) => [m.topic, m.key])).toEqual([
      ['test.sync.exchanges.v1', 'dossier:H56.14-250702-0001:3:1'],
      ['test.sync.exchanges.v1', 'dossier:H56.14-250702-0002:3:1'],
    ]);
    const payloads = sent.map(
      (m) => JSON.parse(m.value.toString('utf8')) as Record<string, unknown>,
    );
    for (const p of payloads)
      expect(validator.validate(EVENT_TYPES.PortalExchange, p).ok).toBe(true);
    for (const m of sent) expect(readEvent(m, TOPICS.syncExchanges, validator).ok).toBe(true);
    expect(payloads[1]).toMatchObject({ durationMs: 140, httpStatus: 429, outcome: 'retriable' });
    expect(publisher.sent).toBe(2);
    await publisher.flush();
    expect(sent).toHaveLength(2);
  });

  it('keeps what the broker refused for the next round; beyond its buffer it counts what it drops', async () => {
    let up = false;
    const sent: string[] = [];
    const publisher = new ExchangePublisher({
      producer: {
        send: (_topic, messages) => {
          if (!up) return Promise.reject(new Error('broker away'));
          sent.push(...messages.map((m) => m.key));
          return Promise.resolve();
        },
      },
      service: 'dossier-sync',
      instance: 'dossier-sync-1',
      maxBuffer: 3,
    });
    for (let i = 1; i <= 3; i += 1) publisher.add(record(i));
    await publisher.flush();
    publisher.add(record(4));
    expect(publisher.dropped).toBe(1);
    up = true;
    await publisher.flush();
    expect(sent).toHaveLength(3);
    expect(publisher.sent + publisher.dropped).toBe(4);
  });

  it('drops (and counts) an exchange outside its contract instead of failing the batch', async () => {
    const sent: string[] = [];
    const errors: unknown[] = [];
    const publisher = new ExchangePublisher({
      producer: {
        send: (_t, messages) => {
          sent.push(...messages.map((m) => m.key));
          return Promise.resolve();
        },
      },
      service: 'dossier-sync',
      instance: 'dossier-sync-1',
      onError: (err) => errors.push(err),
    });
    publisher.add(record(1, { portalCode: 'x'.repeat(500) }));
    publisher.add(record(2));
    await publisher.flush();
    expect(sent).toEqual(['dossier:H56.14-250702-0002:3:1']);
    expect(publisher.dropped).toBe(1);
    expect(String(errors[0])).toMatch(/portalCode/);
  });
});
