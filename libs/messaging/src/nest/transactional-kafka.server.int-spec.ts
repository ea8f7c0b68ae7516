import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { INestMicroservice } from '@nestjs/common';
import { ContractValidator } from '@lienthong/contracts';
import { openDataSource } from '@lienthong/persistence';
import {
  Rng,
  connectedProducer,
  dossierLifecycle,
  expectEventually,
  lifecycleRecords,
  useTestContext,
} from '@lienthong/testing';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ConsumerOffset1763800000200 } from '../consumer-offset.store';
import { EventProducer } from '../event-producer';
import type { ConsumedEvent } from '../transactional-consumer';
import { TransactionalBatchContext, TransactionalKafkaServer } from './transactional-kafka.server';

class Seen1763800000998 implements MigrationInterface {
  name = 'Seen1763800000998';
  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'create table seen (event_id text primary key, kafka_partition integer not null, kafka_offset bigint not null)',
    );
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table seen');
  }
}

const CONTRACT_TOPIC = 'commune.dossier.events.v1';

/** A handler in the @EventPattern style that fails its first batch, after writing, to prove the rollback. */
const calls = { batches: 0, failed: 0, committedEvents: 0 };

@Controller()
class SeenController {
  @EventPattern(CONTRACT_TOPIC)
  async handle(
    @Payload() events: ConsumedEvent[],
    @Ctx() ctx: TransactionalBatchContext,
  ): Promise<void> {
    calls.batches += 1;
    ctx.afterCommit(() => (calls.committedEvents += events.length));
    const tx = ctx.getTransaction();
    for (const e of events) {
      expect(e.partition).toBe(ctx.getPartition());
      await tx.query(
        'insert into seen (event_id, kafka_partition, kafka_offset) values ($1, $2, $3)',
        [e.event.envelope.id, e.partition, e.offset],
      );
    }
    if (calls.failed === 0) {
      calls.failed += 1;
      throw new Error('first batch fails after its writes');
    }
  }
}

@Module({ controllers: [SeenController] })
class SeenModule {}

describe('TransactionalKafkaServer: a NestJS @EventPattern handler on the transactional consumer', () => {
  const ctx = useTestContext('nest-transport');

  it('hands each partition batch and its transaction to the handler; a throw rolls the batch back (its after-commit work never runs) and Kafka redelivers it', async () => {
    const topic = await ctx.createTopic(CONTRACT_TOPIC, 3);
    await ctx.createTopic(`${CONTRACT_TOPIC}.dlq.v1`, 1);
    const dataSource = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: [ConsumerOffset1763800000200, Seen1763800000998],
      applicationName: 'messaging-nest-int-spec',
    });
    const producer = new EventProducer(ctx.kafka);
    const running: { app?: INestMicroservice } = {};
    ctx.onCleanup(async () => {
      await running.app?.close();
      await producer.disconnect();
      await dataSource.destroy();
    });

    const rng = new Rng(5);
    const records = Array.from({ length: 20 }, (_, i) =>
      dossierLifecycle(rng, { number: i + 1 }),
    ).flatMap((l) => lifecycleRecords(l));
    const kafkaProducer = await connectedProducer(ctx.kafka);
    await kafkaProducer.send({ topic, messages: records });
    await kafkaProducer.disconnect();

    const server = new TransactionalKafkaServer({
      kafka: ctx.kafka,
      groupId: `${topic}-group`,
      topic,
      contractTopic: CONTRACT_TOPIC,
      dataSource,
      validator: new ContractValidator(),
      producer,
    });
    running.app = await NestFactory.createMicroservice(SeenModule, {
      strategy: server,
      logger: false,
    });
    await running.app.listen();

    await expectEventually(
      async () => {
        const rows = await dataSource.query<Array<{ n: string }>>('select count(*) n from seen');
        expect(Number(rows[0]?.n)).toBe(records.length);
      },
      { timeoutMs: 60_000 },
    );
    // The failed batch was rolled back (no duplicate key) and applied on redelivery.
    expect(calls.failed).toBe(1);
    expect(calls.batches).toBeGreaterThan(1);
    // afterCommit work ran for committed batches only: the rolled-back one counted nothing.
    expect(calls.committedEvents).toBe(records.length);
    const offsets = await dataSource.query<Array<{ partition: number; next_offset: string }>>(
      'select partition, next_offset from consumer_offset order by partition',
    );
    const perPartition = await dataSource.query<Array<{ p: number; n: string }>>(
      'select kafka_partition p, count(*) n from seen group by 1 order by 1',
    );
    expect(offsets.map((o) => [o.partition, Number(o.next_offset)])).toEqual(
      perPartition.map((r) => [r.p, Number(r.n)]),
    );
  });

  it('refuses to start without an @EventPattern handler for its topic', async () => {
    @Module({})
    class Empty {}
    const server = new TransactionalKafkaServer({
      kafka: ctx.kafka,
      groupId: 'unused',
      topic: 'unused',
      contractTopic: 'commune.land.events.v1',
      dataSource: {} as never,
      validator: new ContractValidator(),
      producer: new EventProducer(ctx.kafka),
    });
    const app = await NestFactory.createMicroservice(Empty, { strategy: server, logger: false });
    await expect(app.listen()).rejects.toThrow(
      "no @EventPattern('commune.land.events.v1') handler is registered",
    );
    await app.close();
  });
});
