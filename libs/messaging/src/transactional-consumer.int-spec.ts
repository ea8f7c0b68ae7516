import { ContractValidator } from '@lienthong/contracts';
import { openDataSource } from '@lienthong/persistence';
import {
  RecordingConsumer,
  Rng,
  connectedProducer,
  dossierLifecycle,
  expectEventually,
  invalidCorpus,
  lifecycleRecords,
  useTestContext,
} from '@lienthong/testing';
import type { TestContext } from '@lienthong/testing';
import type { Kafka } from 'kafkajs';
import type { MigrationInterface, QueryRunner, DataSource } from 'typeorm';
import { ConsumerOffset1763800000200, ConsumerOffsetStore } from './consumer-offset.store';
import { DeadLetterOriginal1763800000600 } from './dead-letter-writer';
import { rewindConsumer } from './rewind';
import { EventProducer } from './event-producer';
import { TransactionalConsumer } from './transactional-consumer';
import type { ConsumedEvent, TransactionalConsumerOptions } from './transactional-consumer';

class Applied1763800000999 implements MigrationInterface {
  name = 'Applied1763800000999';
  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `create table applied (id bigserial primary key, event_id text not null, entity_key text not null, sequence integer not null, kafka_partition integer not null, kafka_offset bigint not null)`,
    );
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table applied');
  }
}

const CONTRACT_TOPIC = 'commune.dossier.events.v1';

async function setup(ctx: TestContext) {
  const topic = await ctx.createTopic(`dossier-${Math.random().toString(36).slice(2, 8)}`, 3);
  const dlq = `${topic}.dlq.v1`;
  const admin = ctx.kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: dlq, numPartitions: 1 }] });
  await admin.disconnect();
  ctx.onCleanup(async () => {
    const a = ctx.kafka.admin();
    await a.connect();
    await a.deleteTopics({ topics: [dlq] }).catch(() => undefined);
    await a.disconnect();
  });
  const dataSource = await openDataSource({
    url: ctx.stack.databaseUrl,
    schema: ctx.schema,
    migrations: [
      ConsumerOffset1763800000200,
      Applied1763800000999,
      DeadLetterOriginal1763800000600,
    ],
    applicationName: 'messaging-int-spec',
  });
  await dataSource.query('truncate applied');
  const producer = new EventProducer(ctx.kafka);
  ctx.onCleanup(async () => {
    await producer.disconnect();
    await dataSource.destroy();
  });
  return { topic, dlq, dataSource, producer };
}

async function record(events: ConsumedEvent[], tx: { query: DataSource['query'] }): Promise<void> {
  for (const e of events) {
    await tx.query(
      'insert into applied (event_id, entity_key, sequence, kafka_partition, kafka_offset) values ($1, $2, $3, $4, $5)',
      [
        e.event.envelope.id,
        e.event.envelope.subject,
        e.event.envelope.sequence,
        e.partition,
        e.offset,
      ],
    );
  }
}

describe(`TransactionalConsumer on real Kafka (${process.env.KAFKA_BROKERS ?? '?'}) and PostgreSQL`, () => {
  const ctx = useTestContext('messaging');
  const validator = new ContractValidator();
  /** A consumer of a test world's topic (group `<topic>-group`), recording with `record` unless overridden. */
  const consumerOn = (
    world: Pick<Awaited<ReturnType<typeof setup>>, 'topic' | 'dataSource' | 'producer'>,
    overrides: Partial<TransactionalConsumerOptions> = {},
  ) =>
    new TransactionalConsumer({
      kafka: ctx.kafka,
      groupId: `${world.topic}-group`,
      topic: world.topic,
      contractTopic: CONTRACT_TOPIC,
      dataSource: world.dataSource,
      validator,
      producer: world.producer,
      handle: record,
      ...overrides,
    });

  it('applies every valid event once, in order per dossier, and sends every invalid one to the DLQ with its reason', async () => {
    const { topic, dlq, dataSource, producer } = await setup(ctx);
    const rng = new Rng(11);
    const lifecycles = Array.from({ length: 30 }, (_, i) =>
      dossierLifecycle(rng, { number: i + 1 }),
    );
    const valid = lifecycles.flatMap((l) => lifecycleRecords(l));
    const invalid = invalidCorpus().filter((c) => c.topic === CONTRACT_TOPIC);
    const kafkaProducer = await connectedProducer(ctx.kafka);
    // Interleave: invalid records among the valid ones.
    const messages = [...valid];
    invalid.forEach((c, i) =>
      messages.splice((i * 7) % messages.length, 0, {
        key: c.record.key as string,
        value: c.record.value as Buffer,
        headers: c.record.headers as Record<string, string>,
      }),
    );
    await kafkaProducer.send({ topic, messages });
    await kafkaProducer.disconnect();

    const consumer = consumerOn({ topic, dataSource, producer });
    await consumer.start();
    try {
      await expectEventually(
        () => expect(consumer.stats.applied + consumer.stats.deadLettered).toBe(messages.length),
        { timeoutMs: 60_000 },
      );
    } finally {
      await consumer.stop();
    }
    expect(consumer.stats).toEqual({
      applied: valid.length,
      skipped: 0,
      deadLettered: invalid.length,
      deadLetteredInHandling: 0,
    });

    const rows = await ctx.sql.query<{ event_id: string; entity_key: string; sequence: number }>(
      'select event_id, entity_key, sequence from applied order by id',
    );
    expect(rows).toHaveLength(valid.length);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(valid.length);
    for (const l of lifecycles) {
      expect(rows.filter((r) => r.entity_key === l.code).map((r) => r.sequence)).toEqual(
        l.events.map((e) => e.sequence),
      );
    }

    const stored = await ctx.sql.query<{ partition: number; next_offset: string }>(
      'select partition, next_offset from consumer_offset order by partition',
    );
    const admin = ctx.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
    await admin.disconnect();
    for (const { partition, next_offset } of stored) {
      expect(next_offset).toBe(ends.find((e) => e.partition === partition)?.high);
      expect(committed[0]?.partitions.find((p) => p.partition === partition)?.offset).toBe(
        next_offset,
      );
    }

    const dead: Array<{ code: string; field: string; sourceTopic: string }> = [];
    const reader = ctx.kafka.consumer({ groupId: `${dlq}-reader` });
    await reader.connect();
    await reader.subscribe({ topic: dlq, fromBeginning: true });
    await reader.run({
      eachMessage: ({ message }) =>
        Promise.resolve(
          void dead.push({
            code: String(message.headers?.dlq_error_code),
            field: String(message.headers?.dlq_field),
            sourceTopic: String(message.headers?.dlq_source_topic),
          }),
        ),
    });
    try {
      await expectEventually(() => expect(dead).toHaveLength(invalid.length), {
        timeoutMs: 30_000,
      });
    } finally {
      await reader.disconnect();
    }
    expect(dead.map((d) => `${d.code} ${d.field}`).sort()).toEqual(
      invalid.map((c) => `${c.expected.code} ${c.expected.field}`).sort(),
    );
    expect(new Set(dead.map((d) => d.sourceTopic))).toEqual(new Set([topic]));
  });

  it('applies nothing twice when a consumer crashes after the database commit, before the Kafka commit', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const rng = new Rng(12);
    const lifecycles = Array.from({ length: 10 }, (_, i) =>
      dossierLifecycle(rng, { number: i + 1 }),
    );
    const records = lifecycles.flatMap((l) => lifecycleRecords(l));
    const kafkaProducer = await connectedProducer(ctx.kafka);
    await kafkaProducer.send({ topic, messages: records });
    await kafkaProducer.disconnect();

    let crashed = false;
    const groupId = `${topic}-group`;
    const first = consumerOn(
      { topic, dataSource, producer },
      {
        afterDatabaseCommit: () => {
          crashed = true;
          return Promise.reject(
            new Error('simulated crash between the database commit and the Kafka commit'),
          );
        },
      },
    );
    await first.start();
    await expectEventually(() => expect(crashed).toBe(true), { timeoutMs: 30_000 });
    await first.stop();
    const appliedByFirst = first.stats.applied;
    expect(appliedByFirst).toBeGreaterThan(0);

    const second = consumerOn({ topic, dataSource, producer });
    await second.start();
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      // Caught up: the group's committed offsets reached the end of every partition.
      const ends = await admin.fetchTopicOffsets(topic);
      await expectEventually(
        async () => {
          const committed =
            (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
          for (const end of ends)
            expect(committed.find((p) => p.partition === end.partition)?.offset).toBe(end.high);
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    } finally {
      await admin.disconnect();
      await second.stop();
    }
    expect(appliedByFirst + second.stats.applied).toBe(records.length);
    // Redelivered records below the stored offset were skipped (by the first consumer's retry of
    // the crashed batch, or by the second after the rebalance), and none was applied twice.
    expect(first.stats.skipped + second.stats.skipped).toBeGreaterThan(0);
    const counts = await ctx.sql.query<{ n: string; distinct_ids: string }>(
      'select count(*) n, count(distinct event_id) distinct_ids from applied',
    );
    expect(counts[0]).toEqual({ n: String(records.length), distinct_ids: String(records.length) });
  });

  it('rolls a failing handler back: nothing stored, nothing lost, applied once when it succeeds', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const rng = new Rng(13);
    const lifecycles = Array.from({ length: 5 }, (_, i) =>
      dossierLifecycle(rng, { number: i + 1 }),
    );
    const records = lifecycles.flatMap((l) => lifecycleRecords(l));
    const kafkaProducer = await connectedProducer(ctx.kafka);
    await kafkaProducer.send({ topic, messages: records });
    await kafkaProducer.disconnect();
    let failures = 0;
    const consumer = consumerOn(
      { topic, dataSource, producer },
      {
        handle: async (events, tx) => {
          await record(events, tx);
          if (failures < 2) {
            failures += 1;
            throw new Error('database trouble after writing: the transaction must roll back');
          }
        },
      },
    );
    await consumer.start();
    try {
      await expectEventually(() => expect(consumer.stats.applied).toBe(records.length), {
        timeoutMs: 60_000,
      });
    } finally {
      await consumer.stop();
    }
    expect(failures).toBe(2);
    const counts = await ctx.sql.query<{ n: string; distinct_ids: string }>(
      'select count(*) n, count(distinct event_id) distinct_ids from applied',
    );
    expect(counts[0]).toEqual({ n: String(records.length), distinct_ids: String(records.length) });
  });

  /** Valid dossier records on one partition (one key each), produced in order. */
  const produce = async (topic: string, lifecycles: ReturnType<typeof dossierLifecycle>[]) => {
    const records = lifecycles.flatMap((l) => lifecycleRecords(l));
    const p = await connectedProducer(ctx.kafka);
    await p.send({ topic, messages: records.map((r) => ({ ...r, partition: 0 })) });
    await p.disconnect();
    return records;
  };
  const dlqReader = async (dlq: string) => {
    const reader = new RecordingConsumer(ctx.kafka);
    await reader.start(dlq);
    ctx.onCleanup(() => reader.stop());
    return reader;
  };

  it('isolates a poison record: bounded retries, then it alone goes to the DLQ (stage handle, once), and its partition carries on', async () => {
    const { topic, dlq, dataSource, producer } = await setup(ctx);
    const lifecycles = Array.from({ length: 6 }, (_, i) =>
      dossierLifecycle(new Rng(60 + i), { number: i + 1, endAt: 2 }),
    );
    const poisonKey = lifecycles[2]?.code as string;
    const records = await produce(topic, lifecycles);
    let handled = 0;
    const consumer = consumerOn(
      { topic, dataSource, producer },
      {
        retryBackoffMs: 20,
        handle: async (events, tx) => {
          handled += 1;
          await record(events, tx);
          // A value the database refuses, for one dossier's events only (SQLSTATE 22P02).
          for (const e of events)
            if (e.event.envelope.subject === poisonKey)
              await tx.query('select $1::integer', [e.event.envelope.subject]);
        },
      },
    );
    const reader = await dlqReader(dlq);
    await consumer.start();
    const poisoned = records.filter((r) => r.key === poisonKey).length;
    try {
      await expectEventually(
        async () => {
          const rows = await ctx.sql.query('select 1 from applied');
          expect(rows).toHaveLength(records.length - poisoned);
          expect(reader.messages).toHaveLength(poisoned);
        },
        { timeoutMs: 20_000 },
      );
    } finally {
      await consumer.stop();
    }
    expect(reader.messages.map((m) => m.headers.dlq_stage)).toEqual(
      records.filter((r) => r.key === poisonKey).map(() => 'handle'),
    );
    expect(reader.messages[0]?.headers).toMatchObject({
      dlq_error_code: 'HANDLER_FAILED',
      dlq_attempts: '3',
    });
    // The reason names the class of failure, never the value.
    expect(reader.messages[0]?.headers.dlq_error_message).toContain('22P02');
    expect(reader.messages[0]?.headers.dlq_error_message).not.toContain(poisonKey);
    expect(consumer.stats).toMatchObject({
      deadLettered: poisoned,
      deadLetteredInHandling: poisoned,
    });
    expect(handled).toBeGreaterThan(3);
  });

  it('sends what the handler refuses to the DLQ with its code, and applies the rest', async () => {
    const { topic, dlq, dataSource, producer } = await setup(ctx);
    const lifecycles = Array.from({ length: 3 }, (_, i) =>
      dossierLifecycle(new Rng(70 + i), { number: i + 1, endAt: 2 }),
    );
    const records = await produce(topic, lifecycles);
    const refusedKey = lifecycles[1]?.code as string;
    const consumer = consumerOn(
      { topic, dataSource, producer },
      {
        handle: async (events, tx, tools) => {
          for (const e of events) {
            if (e.event.envelope.subject === refusedKey)
              tools.reject(e, {
                code: 'COMMUNE_MISMATCH',
                field: 'ce_communecode',
                rule: 'entity-owner',
                message: 'ce_communecode: not the owner',
              });
            else await record([e], tx);
          }
        },
      },
    );
    const reader = await dlqReader(dlq);
    await consumer.start();
    const refused = records.filter((r) => r.key === refusedKey).length;
    try {
      await expectEventually(() => expect(reader.messages).toHaveLength(refused), {
        timeoutMs: 20_000,
      });
    } finally {
      await consumer.stop();
    }
    expect(
      reader.messages.map(
        (m) => `${m.headers.dlq_stage} ${m.headers.dlq_error_code} ${m.headers.dlq_field}`,
      ),
    ).toEqual(
      records
        .filter((r) => r.key === refusedKey)
        .map(() => 'handle COMMUNE_MISMATCH ce_communecode'),
    );
    expect(await ctx.sql.query('select 1 from applied')).toHaveLength(records.length - refused);
  });

  it('a DLQ that cannot be written stops consumption loudly (health says why), commits nothing past the record, and resumes once it can', async () => {
    const { topic, dlq, dataSource, producer } = await setup(ctx);
    const admin = ctx.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [dlq] });
    await expectEventually(async () => expect(await admin.listTopics()).not.toContain(dlq));
    // One key, so one partition: an invalid record, then a valid lifecycle behind it.
    const life = dossierLifecycle(new Rng(90), { number: 1, endAt: 2 });
    const valid = lifecycleRecords(life);
    const p = await connectedProducer(ctx.kafka);
    await p.send({
      topic,
      messages: [
        { key: life.code, value: Buffer.from('{not json'), headers: { ce_specversion: '1.0' } },
        ...valid,
      ],
    });
    await p.disconnect();
    const consumer = consumerOn({ topic, dataSource, producer });
    await consumer.start();
    try {
      await expectEventually(
        () => expect(consumer.health().deadLetterFailing).toEqual(expect.any(String)),
        { timeoutMs: 60_000 },
      );
      expect(await ctx.sql.query('select 1 from applied')).toEqual([]);
      expect(
        await ctx.sql.query('select 1 from consumer_offset where topic = $1 and next_offset > 0', [
          topic,
        ]),
      ).toEqual([]);

      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: dlq, numPartitions: 1 }],
      });
      const reader = await dlqReader(dlq);
      await expectEventually(() => expect(reader.messages).toHaveLength(1), { timeoutMs: 60_000 });
      await expectEventually(
        async () => expect(await ctx.sql.query('select 1 from applied')).toHaveLength(valid.length),
        { timeoutMs: 30_000 },
      );
      expect(consumer.health().deadLetterFailing).toBeUndefined();
    } finally {
      await consumer.stop();
      await admin.disconnect();
    }
  });

  it('keeps an oversize original in Postgres and sends a dead letter that references it', async () => {
    const { topic, dlq, dataSource, producer } = await setup(ctx);
    const big = Buffer.from(`{"not":"a contract payload","pad":"${'x'.repeat(5000)}"}`);
    const p = await connectedProducer(ctx.kafka);
    await p.send({
      topic,
      messages: [{ key: 'k', value: big, headers: { ce_specversion: '1.0' } }],
    });
    await p.disconnect();
    const consumer = consumerOn(
      { topic, dataSource, producer },
      { maxDeadLetterBytes: 2000, handle: record },
    );
    const reader = await dlqReader(dlq);
    await consumer.start();
    try {
      await expectEventually(() => expect(reader.messages).toHaveLength(1), { timeoutMs: 20_000 });
    } finally {
      await consumer.stop();
    }
    const letter = reader.messages[0];
    expect(letter?.value).toBeNull();
    expect(letter?.headers.dlq_original_ref).toMatch(/^postgres:dead_letter_original\/\d+$/);
    const [row] = await ctx.sql.query<{ record_value: Buffer }>(
      'select record_value from dead_letter_original',
    );
    expect(row?.record_value.equals(big)).toBe(true);
  });

  it('a stored offset past the end of the log (topic recreated) is reset and said so, not obeyed: nothing is skipped', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const groupId = `${topic}-group`;
    for (const partition of [0, 1, 2])
      await ctx.sql.query(
        'insert into consumer_offset (group_id, topic, partition, next_offset, updated_at) values ($1, $2, $3, 100000, now())',
        [groupId, topic, partition],
      );
    const records = await produce(topic, [dossierLifecycle(new Rng(80), { endAt: 2 })]);
    const errors: string[] = [];
    const consumer = consumerOn(
      { topic, dataSource, producer },
      { logger: { warn: () => undefined, error: (_f, m) => void errors.push(m) } },
    );
    await consumer.start();
    try {
      await expectEventually(
        async () =>
          expect(await ctx.sql.query('select 1 from applied')).toHaveLength(records.length),
        {
          timeoutMs: 20_000,
        },
      );
    } finally {
      await consumer.stop();
    }
    expect(consumer.health().offsetNotices.map((n) => n.kind)).toContain(
      'stored-offset-beyond-log-end',
    );
    expect(errors.some((m) => m.includes('past the end of the log'))).toBe(true);
    const [row] = await ctx.sql.query<{ next_offset: string }>(
      'select next_offset from consumer_offset where partition = 0 and group_id = $1',
      [groupId],
    );
    expect(row?.next_offset).toBe(String(records.length));
  });

  it('offsets that go back: a group rewound in Kafka alone is skipped with a trace; the rewind command replays on purpose', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const groupId = `${topic}-group`;
    const records = await produce(topic, [dossierLifecycle(new Rng(90), { endAt: 4 })]);
    const warnings: string[] = [];
    const consumer = () =>
      consumerOn(
        { topic, dataSource, producer },
        { logger: { warn: (_f, m) => void warnings.push(m), error: () => undefined } },
      );
    const applied = async () => (await ctx.sql.query('select 1 from applied')).length;
    const runUntil = async (c: TransactionalConsumer, done: () => Promise<void>) => {
      await c.start();
      try {
        await expectEventually(done, { timeoutMs: 30_000 });
      } finally {
        await c.stop();
      }
    };
    await runUntil(consumer(), async () => expect(await applied()).toBe(records.length));

    // Kafka's offsets alone moved back (an operator's kafka-consumer-groups --reset-offsets).
    const admin = ctx.kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] });
    await admin.disconnect();
    const second = consumer();
    await runUntil(second, () => {
      expect(second.stats.skipped).toBe(records.length);
      return Promise.resolve();
    });
    expect(await applied()).toBe(records.length);
    expect(second.health().offsetNotices[0]).toMatchObject({
      kind: 'skipped-below-stored-offset',
      partition: 0,
      storedNext: String(records.length),
    });
    expect(warnings.some((w) => w.includes('skipped'))).toBe(true);

    // The documented command moves both, so the records are applied again.
    await rewindConsumer({ kafka: ctx.kafka, db: dataSource, groupId, topic, toOffset: 0n });
    await runUntil(consumer(), async () => expect(await applied()).toBe(2 * records.length));
  });

  it('commits to Kafka what it applied when it is stopped between the database commit and the Kafka commit', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const records = lifecycleRecords(dossierLifecycle(new Rng(140), { endAt: 4 }));
    const p = await connectedProducer(ctx.kafka);
    await p.send({ topic, messages: records.map((r) => ({ ...r, partition: 0 })) });
    await p.disconnect();
    let stopping: Promise<void> | undefined;
    const c: TransactionalConsumer = consumerOn(
      { topic, dataSource, producer },
      {
        // A deploy's SIGTERM arrives right after the first batch's database commit.
        afterDatabaseCommit: async () => {
          stopping ??= c.stop();
          await new Promise((resolve) => setImmediate(resolve));
        },
      },
    );
    await c.start();
    await expectEventually(() => expect(stopping).toBeDefined(), { timeoutMs: 30_000 });
    await stopping;
    const stored = await ctx.sql.query<{ next_offset: string }>(
      'select next_offset from consumer_offset where topic = $1 and partition = 0',
      [topic],
    );
    const admin = ctx.kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
    await admin.disconnect();
    expect(stored).toHaveLength(1);
    expect(committed[0]?.partitions.find((q) => q.partition === 0)?.offset).toBe(
      stored[0]?.next_offset,
    );
  });

  it('reads the stored offset when it takes a partition, not again for a batch that continues its own last one', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const reads: number[] = [];
    class CountingStore extends ConsumerOffsetStore {
      override next(...args: Parameters<ConsumerOffsetStore['next']>) {
        reads.push(args[3]);
        return super.next(...args);
      }
    }
    const records = lifecycleRecords(dossierLifecycle(new Rng(91), { endAt: 4 }));
    const c = consumerOn({ topic, dataSource, producer }, { offsets: new CountingStore() });
    const applied = async () => (await ctx.sql.query('select 1 from applied')).length;
    const p = await connectedProducer(ctx.kafka);
    await c.start();
    try {
      // One record at a time, each its own batch of partition 0.
      for (const [i, r] of records.entries()) {
        await p.send({ topic, messages: [{ ...r, partition: 0 }] });
        await expectEventually(async () => expect(await applied()).toBe(i + 1), {
          timeoutMs: 30_000,
        });
      }
    } finally {
      await p.disconnect();
      await c.stop();
    }
    expect(records.length).toBeGreaterThan(2);
    expect(c.stats.applied).toBe(records.length);
    expect(reads).toEqual([0]);
  });

  it('does not commit a batch over an offset another consumer stored meanwhile: rolled back, read for, skipped', async () => {
    const { topic, dataSource, producer } = await setup(ctx);
    const groupId = `${topic}-group`;
    const records = lifecycleRecords(dossierLifecycle(new Rng(92), { endAt: 4 }));
    expect(records.length).toBeGreaterThanOrEqual(4);
    const warnings: string[] = [];
    const c = consumerOn(
      { topic, dataSource, producer },
      { logger: { warn: (_f, m) => void warnings.push(m), error: () => undefined } },
    );
    const applied = async () =>
      (
        await ctx.sql.query<{ kafka_offset: string }>(
          'select kafka_offset from applied order by kafka_offset',
        )
      ).map((r) => Number(r.kafka_offset));
    const p = await connectedProducer(ctx.kafka);
    const send = (i: number) =>
      p.send({ topic, messages: [{ ...(records[i] as (typeof records)[number]), partition: 0 }] });
    await c.start();
    try {
      await send(0);
      await send(1);
      await expectEventually(async () => expect(await applied()).toEqual([0, 1]), {
        timeoutMs: 30_000,
      });
      // Another member (this one paused past its session, say) applied offset 2 and stored 3.
      await ctx.sql.query(
        'update consumer_offset set next_offset = 3 where group_id = $1 and topic = $2 and partition = 0',
        [groupId, topic],
      );
      await send(2);
      await send(3);
      await expectEventually(async () => expect(await applied()).toEqual([0, 1, 3]), {
        timeoutMs: 30_000,
      });
    } finally {
      await p.disconnect();
      await c.stop();
    }
    expect(c.stats.skipped).toBe(1);
    expect(c.health().offsetNotices.at(-1)).toMatchObject({
      kind: 'skipped-below-stored-offset',
      storedNext: '3',
    });
    expect(warnings.some((w) => w.includes('another consumer stored a later offset'))).toBe(true);
  });

  describe('with maxRecordsPerTransaction: the batches of a fetch share a transaction', () => {
    /** Lifecycles spread over the topic's three partitions, on the topic before the consumer starts. */
    const spread = async (topic: string, seed: number) => {
      const lifecycles = Array.from({ length: 9 }, (_, i) =>
        dossierLifecycle(new Rng(seed + i), { number: i + 1, endAt: 2 }),
      );
      const records = lifecycles.flatMap((l, i) =>
        lifecycleRecords(l).map((r) => ({ ...r, partition: i % 3 })),
      );
      const p = await connectedProducer(ctx.kafka);
      await p.send({ topic, messages: records });
      await p.disconnect();
      return { lifecycles, records };
    };
    const appliedRows = async () =>
      ctx.sql.query<{ event_id: string; kafka_partition: number; kafka_offset: string }>(
        'select event_id, kafka_partition, kafka_offset from applied order by id',
      );

    it('applies several partitions in one transaction, each record once and each partition in order, stores every offset, and commits them to Kafka together', async () => {
      const { topic, dataSource, producer } = await setup(ctx);
      const { records } = await spread(topic, 120);
      const partitionsPerCall: number[] = [];
      // Kafka's offset commit requests, as kafkajs reports them.
      const commitRequests: number[] = [];
      const kafka = {
        consumer: (config: Parameters<Kafka['consumer']>[0]) => {
          const kafkaConsumer = ctx.kafka.consumer(config);
          kafkaConsumer.on(kafkaConsumer.events.COMMIT_OFFSETS, (e) =>
            commitRequests.push(e.payload.topics.flatMap((t) => t.partitions).length),
          );
          return kafkaConsumer;
        },
      } as Kafka;
      const c = consumerOn(
        { topic, dataSource, producer },
        {
          kafka,
          maxRecordsPerTransaction: 1_000,
          handle: async (events, tx) => {
            partitionsPerCall.push(new Set(events.map((e) => e.partition)).size);
            await record(events, tx);
          },
        },
      );
      await c.start();
      try {
        await expectEventually(
          async () => expect(await appliedRows()).toHaveLength(records.length),
          {
            timeoutMs: 30_000,
          },
        );
      } finally {
        await c.stop();
      }
      expect(Math.max(...partitionsPerCall)).toBeGreaterThan(1);
      // Batches that finished together were committed in fewer requests than batches.
      const batches = partitionsPerCall.reduce((a, b) => a + b, 0);
      expect(commitRequests.reduce((a, b) => a + b, 0)).toBe(batches);
      expect(commitRequests.length).toBeLessThan(batches);
      const rows = await appliedRows();
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(records.length);
      for (const partition of [0, 1, 2]) {
        const offsets = rows
          .filter((r) => r.kafka_partition === partition)
          .map((r) => Number(r.kafka_offset));
        expect(offsets).toEqual(offsets.map((_, i) => i));
      }
      const stored = await ctx.sql.query<{ partition: number; next_offset: string }>(
        'select partition, next_offset from consumer_offset where topic = $1 order by partition',
        [topic],
      );
      expect(stored.map((r) => [r.partition, Number(r.next_offset)])).toEqual(
        [0, 1, 2].map((partition) => [
          partition,
          records.filter((r) => r.partition === partition).length,
        ]),
      );
      expect(c.stats).toMatchObject({ applied: records.length, skipped: 0, deadLettered: 0 });
    });

    it('a poison record fails the shared transaction: each partition is applied on its own, and the poison alone goes to the DLQ', async () => {
      const { topic, dlq, dataSource, producer } = await setup(ctx);
      const { lifecycles, records } = await spread(topic, 130);
      // One poison dossier per partition: whichever partitions share a transaction, it fails.
      const poisonKeys = new Set(lifecycles.slice(0, 3).map((l) => l.code));
      const poisoned = records.filter((r) => poisonKeys.has(r.key)).length;
      const warnings: string[] = [];
      const c = consumerOn(
        { topic, dataSource, producer },
        {
          maxRecordsPerTransaction: 1_000,
          retryBackoffMs: 20,
          logger: { warn: (_f, m) => void warnings.push(m), error: () => undefined },
          handle: async (events, tx) => {
            await record(events, tx);
            for (const e of events)
              if (poisonKeys.has(e.event.envelope.subject))
                await tx.query('select $1::integer', [e.event.envelope.subject]);
          },
        },
      );
      const reader = await dlqReader(dlq);
      await c.start();
      try {
        await expectEventually(
          async () => {
            expect(await appliedRows()).toHaveLength(records.length - poisoned);
            expect(reader.messages).toHaveLength(poisoned);
          },
          { timeoutMs: 30_000 },
        );
      } finally {
        await c.stop();
      }
      expect(warnings).toContain(
        'a transaction shared by several partitions failed; each is applied on its own',
      );
      expect(reader.messages.map((m) => m.headers.dlq_error_code)).toEqual(
        Array.from({ length: poisoned }, () => 'HANDLER_FAILED'),
      );
      const rows = await appliedRows();
      expect(new Set(rows.map((r) => r.event_id)).size).toBe(records.length - poisoned);
      expect(c.stats).toMatchObject({
        applied: records.length - poisoned,
        deadLettered: poisoned,
        deadLetteredInHandling: poisoned,
      });
    });
  });
});
