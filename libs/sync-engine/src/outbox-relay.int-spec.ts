import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ContractValidator, readEvent } from '@lienthong/contracts';
import { openDataSource } from '@lienthong/persistence';
import {
  Rng,
  RecordingConsumer,
  dossierLifecycle,
  expectEventually,
  useTestContext,
} from '@lienthong/testing';
import { connectedProducer } from '@lienthong/testing';
import { LedgerIngest } from './ledger-ingest';
import { OutboxRelay } from './outbox-relay';
import type { OutboxRelayOptions } from './outbox-relay';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';

describe(`outbox relay to real Kafka (${process.env.KAFKA_BROKERS ?? '?'})`, () => {
  const ctx = useTestContext('outbox-relay');
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'relay-int-spec',
    });
    ctx.onCleanup(() => ds.destroy());
  });

  /** A relay over a real producer, run until the outbox is drained, then closed. */
  const drain = async (
    service: string,
    topic: string,
    v2Topic: string,
    extra: Partial<OutboxRelayOptions> = {},
  ): Promise<OutboxRelay> => {
    const kafkaProducer = await connectedProducer(ctx.kafka);
    const relay = new OutboxRelay({
      dataSource: ds,
      producer: { send: (t, messages) => kafkaProducer.send({ topic: t, messages, acks: -1 }) },
      service,
      batchSize: 100,
      idleMs: 20,
      topicFor: () => topic,
      v2Topic,
      ...extra,
    });
    try {
      while ((await relay.runOnce()) > 0);
    } finally {
      await relay.close();
      await kafkaProducer.disconnect();
    }
    return relay;
  };

  it('publishes every status once, valid against its contract, in order per dossier, with stable event ids', async () => {
    const topic = await ctx.createTopic('status', 3);
    const v2Topic = await ctx.createTopic('status-v2', 3);
    const lives = Array.from({ length: 40 }, (_, i) =>
      dossierLifecycle(new Rng(500 + i), { number: i + 1 }),
    );
    const ingest = new LedgerIngest('dossier-sync');
    // Round k ingests the k-th event of every dossier in one batch: one outbox row of many
    // statuses, the way the consumer writes them (a round's rows hold more than one such batch).
    const rounds = Math.max(...lives.map((l) => l.events.length));
    for (let k = 0; k < rounds; k += 1) {
      await ingest.ingest(
        ds.manager,
        lives.flatMap((life) => {
          const e = life.events[k];
          if (!e) return [];
          return [
            {
              eventId: randomUUID(),
              domain: 'dossier' as const,
              entityType: 'dossier' as const,
              entityKey: life.code,
              communeCode: life.commune.code,
              source: `/communes/${life.commune.code}/test`,
              target: 'dvcqg' as const,
              sequence: e.sequence,
              kind: e.kind === 'upsert' ? ('snapshot' as const) : ('part' as const),
              ...(e.kind === 'step' ? { partKey: e.data.MaBuocXuLy } : {}),
              payload: e.data,
            },
          ];
        }),
      );
    }
    const [rows] = await ctx.sql.query<{ rows: string; statuses: string }>(
      'select count(*) rows, sum(statuses) statuses from outbox',
    );
    expect(Number(rows?.rows)).toBeLessThanOrEqual(rounds);
    const expected = lives.reduce((n, l) => n + l.events.length, 0);
    expect(Number(rows?.statuses)).toBe(expected);
    const relay = await drain('dossier-sync', topic, v2Topic);
    expect(relay.published).toBe(expected);

    const consumer = new RecordingConsumer(ctx.kafka);
    await consumer.start(topic);
    try {
      await expectEventually(() => expect(consumer.messages).toHaveLength(expected), {
        timeoutMs: 60_000,
      });
    } finally {
      await consumer.stop();
    }
    const validator = new ContractValidator();
    const ids = new Set<string>();
    for (const life of lives) {
      const mine = consumer.messages.filter((m) => m.key === `dossier:${life.code}`);
      const sequences = mine.map((m) => {
        const read = readEvent(
          { key: m.key, value: m.value, headers: m.headers },
          'sync.status.v1',
          validator,
        );
        if (!read.ok) throw new Error(JSON.stringify(read.failure));
        ids.add(read.value.envelope.id);
        return (read.value.data as { sequence: number; state: string }).sequence;
      });
      expect(sequences).toEqual(life.events.map((e) => e.sequence));
    }
    expect(ids.size).toBe(expected);
    // A status of a batch row is <row id>.<n> in its event ids; a row of one status is <row id>.
    expect([...ids].filter((id) => !/^dossier-sync-outbox-\d+(\.\d+)?$/.test(id))).toEqual([]);
    expect([...ids].filter((id) => id.includes('.')).length).toBeGreaterThan(expected / 2);
    const [pending] = await ctx.sql.query<{ n: string }>(
      'select count(*) n from outbox where published_at is null',
    );
    expect(pending?.n).toBe('0');
  });

  it('running, marks each round published in the next round’s read: every status sent once, all marked once closed', async () => {
    const topic = await ctx.createTopic('status-loop', 3);
    const v2Topic = await ctx.createTopic('status-loop-v2', 3);
    await ctx.sql.query('truncate outbox');
    const kafkaProducer = await connectedProducer(ctx.kafka);
    // What the relay hands to Kafka, by event id: a row read again before its mark is sent twice.
    const sent: string[] = [];
    const relay = new OutboxRelay({
      dataSource: ds,
      producer: {
        send: async (t, messages) => {
          await kafkaProducer.send({ topic: t, messages, acks: -1 });
          if (t === v2Topic) sent.push(...messages.map((m) => String(m.headers.ce_id)));
        },
      },
      service: 'loop-sync',
      batchSize: 4,
      idleMs: 20,
      topicFor: () => topic,
      v2Topic,
    });
    const ingest = new LedgerIngest('loop-sync');
    const statuses = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        eventId: randomUUID(),
        domain: 'dossier' as const,
        entityType: 'dossier' as const,
        entityKey: `LOOP-${i}`,
        communeCode: '00004',
        source: '/communes/00004/test',
        target: 'dvcqg' as const,
        sequence: 1,
        kind: 'snapshot' as const,
        payload: { MaHoSo: `LOOP-${i}` },
      }));
    relay.start();
    let expected = 0;
    try {
      // Rows arrive while the loop runs, one status each (several rounds of batchSize).
      for (let i = 0; i < 30; i += 1) {
        await ingest.ingest(
          ds.manager,
          statuses(1).map((e) => ({ ...e, entityKey: `LOOP-${i}` })),
        );
        expected += 1;
      }
      await expectEventually(() => expect(sent).toHaveLength(expected), { timeoutMs: 30_000 });
      // Marked by the rounds that follow (the loop's idle poll), without a close.
      await expectEventually(async () => {
        const [pending] = await ctx.sql.query<{ n: string }>(
          'select count(*) n from outbox where published_at is null',
        );
        expect(pending?.n).toBe('0');
      });
      // One more row: its round's mark is left for the next read, or for close.
      await ingest.ingest(
        ds.manager,
        statuses(1).map((e) => ({ ...e, entityKey: 'LOOP-last' })),
      );
      expected += 1;
      await expectEventually(() => expect(sent).toHaveLength(expected), { timeoutMs: 30_000 });
    } finally {
      await relay.close();
      await kafkaProducer.disconnect();
    }
    expect(new Set(sent).size).toBe(expected);
    expect(sent).toHaveLength(expected);
    const [pending] = await ctx.sql.query<{ n: string }>(
      'select count(*) n from outbox where published_at is null',
    );
    expect(pending?.n).toBe('0');
  });

  it('sets a malformed row aside with its reason; the rows behind it are published', async () => {
    const topic = await ctx.createTopic('status-aside', 1);
    const v2Topic = await ctx.createTopic('status-aside-v2', 1);
    await ctx.sql.query('truncate outbox');
    const good = (key: string, sequence: number) => ({
      entity: { domain: 'dossier', type: 'dossier', key, communeCode: '26734' },
      state: 'ACCEPTED',
      sequence,
      attempt: 0,
      causationId: randomUUID(),
      target: 'dvcqg',
      occurredAt: '2025-07-02T10:00:00+07:00',
    });
    // A status whose portal message outgrew the contract, between two good ones.
    const bad = {
      ...good('H56.14-250702-0002', 1),
      state: 'REJECTED',
      error: { code: 'PORTAL_REJECTED', class: 'permanent', message: 'x'.repeat(5000) },
    };
    for (const [key, payload] of [
      ['dossier:H56.14-250702-0001', good('H56.14-250702-0001', 1)],
      ['dossier:H56.14-250702-0002', bad],
      ['dossier:H56.14-250702-0003', good('H56.14-250702-0003', 1)],
    ] as const)
      await ctx.sql.query('insert into outbox (topic, message_key, payload) values ($1, $2, $3)', [
        'sync.status.v1',
        key,
        JSON.stringify(payload),
      ]);
    const setAside: string[] = [];
    const relay = await drain('dossier-sync', topic, v2Topic, {
      onSetAside: (_id, reason) => setAside.push(reason),
    });
    expect(relay.published).toBe(2);
    expect(setAside).toEqual([expect.stringMatching(/^CONTRACT_VIOLATION: error.message: /)]);
    const rows = await ctx.sql.query<{
      message_key: string;
      published: boolean;
      failed_reason: string | null;
    }>(
      'select message_key, published_at is not null published, failed_reason from outbox order by id',
    );
    expect(rows.map((r) => [r.message_key, r.published, r.failed_reason !== null])).toEqual([
      ['dossier:H56.14-250702-0001', true, false],
      ['dossier:H56.14-250702-0002', false, true],
      ['dossier:H56.14-250702-0003', true, false],
    ]);

    // Retention removes published rows only; the set-aside row stays for the operator.
    await ctx.sql.query(
      `update outbox set published_at = now() - interval '3 hours' where published_at is not null`,
    );
    expect(await relay.purgePublished(2)).toBe(2);
    expect(await ctx.sql.query('select message_key from outbox')).toEqual([
      { message_key: 'dossier:H56.14-250702-0002' },
    ]);
  });

  it('publishes the good statuses of a batch row with a malformed one, and sets the row aside naming it', async () => {
    const topic = await ctx.createTopic('status-aside-batch', 1);
    const v2Topic = await ctx.createTopic('status-aside-batch-v2', 1);
    await ctx.sql.query('truncate outbox');
    const good = (key: string) => ({
      entity: { domain: 'dossier', type: 'dossier', key, communeCode: '26734' },
      state: 'ACCEPTED',
      sequence: 1,
      attempt: 0,
      causationId: randomUUID(),
      target: 'dvcqg',
      occurredAt: '2025-07-02T10:00:00+07:00',
    });
    const batch = [
      good('H56.14-250702-0011'),
      { ...good('H56.14-250702-0012'), state: 'NOT_A_STATE' },
      good('H56.14-250702-0013'),
    ];
    await ctx.sql.query(
      `insert into outbox (topic, message_key, payload, statuses) values ('sync.status.v1', '', $1, 3)`,
      [JSON.stringify(batch)],
    );
    // A row behind it is not held up.
    await ctx.sql.query('insert into outbox (topic, message_key, payload) values ($1, $2, $3)', [
      'sync.status.v1',
      'dossier:H56.14-250702-0014',
      JSON.stringify(good('H56.14-250702-0014')),
    ]);
    const setAside: string[] = [];
    const relay = await drain('dossier-sync', topic, v2Topic, {
      onSetAside: (_id, reason) => setAside.push(reason),
    });
    expect(relay.published).toBe(3);
    expect(relay.setAside).toBe(1);
    expect(setAside).toEqual([expect.stringMatching(/^status 2: CONTRACT_VIOLATION: state: /)]);
    const v2 = new RecordingConsumer(ctx.kafka);
    await v2.start(v2Topic);
    try {
      await expectEventually(() => expect(v2.messages).toHaveLength(3), { timeoutMs: 30_000 });
    } finally {
      await v2.stop();
    }
    expect(v2.messages.map((m) => [m.key, m.headers.ce_id])).toEqual([
      ['dossier:H56.14-250702-0011', expect.stringMatching(/^dossier-sync-outbox-v2-\d+\.1$/)],
      ['dossier:H56.14-250702-0013', expect.stringMatching(/^dossier-sync-outbox-v2-\d+\.3$/)],
      ['dossier:H56.14-250702-0014', expect.stringMatching(/^dossier-sync-outbox-v2-\d+$/)],
    ]);
    // The view reads the batch row as one line per status, each with its own key.
    const lines = await ctx.sql.query<{ n: string; message_key: string; aside: boolean }>(
      `select n, message_key, failed_reason is not null aside from outbox_status order by id, n`,
    );
    expect(lines.map((l) => [Number(l.n), l.message_key, l.aside])).toEqual([
      [1, 'dossier:H56.14-250702-0011', true],
      [2, 'dossier:H56.14-250702-0012', true],
      [3, 'dossier:H56.14-250702-0013', true],
      [1, 'dossier:H56.14-250702-0014', false],
    ]);
  });

  it('publishes every status on sync.status.v2, and on v1 only what v1 can say (no v2-only state, no result reference)', async () => {
    const topic = await ctx.createTopic('status-dual', 1);
    const v2Topic = await ctx.createTopic('status-dual-v2', 1);
    await ctx.sql.query('truncate outbox');
    const status = (state: string, extra: object = {}) => ({
      entity: { domain: 'civil-status', type: 'birth', key: 'KS-0001', communeCode: '26734' },
      state,
      sequence: 1,
      attempt: 1,
      causationId: randomUUID(),
      target: 'civil-status-registry',
      occurredAt: '2025-07-02T10:00:00+07:00',
      ...extra,
    });
    const rows = [
      status('AWAITING_RESULT', {
        awaiting: { since: '2025-07-02T10:00:00+07:00', polls: 0, nextPollAt: null },
      }),
      status('SYNCED', {
        receipt: { reference: 'KS-0001', result: { resultRef: 'r-1', soDangKy: '12' } },
      }),
    ];
    for (const payload of rows)
      await ctx.sql.query('insert into outbox (topic, message_key, payload) values ($1, $2, $3)', [
        'sync.status.v1',
        'civil-status:KS-0001',
        JSON.stringify(payload),
      ]);
    await drain('civil-status-sync', topic, v2Topic);
    const [v1, v2] = [new RecordingConsumer(ctx.kafka), new RecordingConsumer(ctx.kafka)];
    await v1.start(topic);
    await v2.start(v2Topic);
    try {
      await expectEventually(
        () => expect([v1.messages.length, v2.messages.length]).toEqual([1, 2]),
        {
          timeoutMs: 30_000,
        },
      );
    } finally {
      await v1.stop();
      await v2.stop();
    }
    const validator = new ContractValidator();
    const read = (m: (typeof v1.messages)[number], t: string) => {
      const r = readEvent({ key: m.key, value: m.value, headers: m.headers }, t, validator);
      if (!r.ok) throw new Error(JSON.stringify(r.failure));
      return r.value;
    };
    expect(v2.messages.map((m) => read(m, 'sync.status.v2').data)).toEqual(rows);
    const [synced] = v1.messages.map((m) => read(m, 'sync.status.v1'));
    expect(synced?.data).toEqual({
      ...rows[1],
      receipt: { reference: 'KS-0001', result: { soDangKy: '12' } },
    });
    expect(synced?.envelope.id).toMatch(/^civil-status-sync-outbox-\d+$/);
    expect(v2.messages.map((m) => m.headers.ce_id)).toEqual([
      expect.stringMatching(/^civil-status-sync-outbox-v2-\d+$/),
      expect.stringMatching(/^civil-status-sync-outbox-v2-\d+$/),
    ]);
  });
});
