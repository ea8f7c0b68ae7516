// The benchmark's baseline: how dossier sync is usually first written with NestJS — a stock Kafka
// transport (@nestjs/microservices Transport.KAFKA) and an @EventPattern handler that calls DVCQG
// synchronously for each message and then emits a sync status. No ledger, no batching, no
// coalescing: one message at a time per partition, as the stock transport delivers them.
import 'reflect-metadata';
import { Controller, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, KafkaContext, Payload, Transport } from '@nestjs/microservices';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { EVENT_TYPES } from '@lienthong/contracts';
import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import { kafkaSaslFromEnv } from '@lienthong/messaging';
import { DvcqgClient } from '@lienthong/portal-clients';
import { InMemoryExchangeRecorder, PortalGateway, ResilienceMetrics } from '@lienthong/resilience';
import { Registry } from 'prom-client';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`baseline: ${name} is required`);
  return value;
};
const TOPIC = env('BENCH_DOSSIER_TOPIC');
const STATUS_TOPIC = env('BENCH_STATUS_TOPIC');
const BROKERS = env('KAFKA_BROKERS').split(',');
const PRODUCER = Symbol('PRODUCER');

@Controller()
class BaselineController {
  constructor(
    private readonly client: DvcqgClient,
    @Inject(PRODUCER) private readonly producer: Producer,
  ) {}

  @EventPattern(TOPIC)
  async handle(@Payload() data: unknown, @Ctx() ctx: KafkaContext): Promise<void> {
    const headers = ctx.getMessage().headers ?? {};
    const type = String(headers.ce_type);
    const sequence = Number(String(headers.ce_sequence));
    const id = String(headers.ce_id);
    let key: string;
    if (type === EVENT_TYPES.DossierUpserted) {
      const header = data as DossierUpserted;
      key = header.MaHoSo;
      await this.client.upsertDossier(header, id);
    } else {
      const step = data as DossierProgressStep;
      key = step.MaHoSo;
      await this.client.pushSteps([step], id);
    }
    await this.producer.send({
      topic: STATUS_TOPIC,
      messages: [{ key, value: JSON.stringify({ key, sequence, state: 'SYNCED' }) }],
    });
  }
}

@Module({
  controllers: [BaselineController],
  providers: [
    {
      provide: DvcqgClient,
      useFactory: () =>
        new DvcqgClient(
          {
            baseUrl: env('DVCQG_BASE_URL'),
            username: 'lienthong',
            password: 'lienthong-dvcqg',
            unitCode: 'H56',
          },
          new PortalGateway(
            {
              target: 'dvcqg',
              breaker: {
                timeoutMs: 5000,
                volumeThreshold: 10,
                errorThresholdPercentage: 50,
                resetTimeoutMs: 5000,
                rollingCountTimeoutMs: 10_000,
              },
              retry: {
                initialIntervalMs: 100,
                backoffCoefficient: 2,
                maximumIntervalMs: 1000,
                maximumAttempts: 3,
              },
              maxConcurrent: 16,
            },
            new InMemoryExchangeRecorder(),
            new ResilienceMetrics(new Registry()),
          ),
        ),
    },
    {
      provide: PRODUCER,
      useFactory: async () => {
        const producer = new Kafka({
          clientId: 'baseline-status',
          brokers: BROKERS,
          sasl: kafkaSaslFromEnv(),
          logLevel: logLevel.NOTHING,
        }).producer();
        await producer.connect();
        return producer;
      },
    },
  ],
})
class BaselineModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(BaselineModule, {
    transport: Transport.KAFKA,
    options: {
      client: {
        clientId: 'baseline',
        brokers: BROKERS,
        sasl: kafkaSaslFromEnv(),
        logLevel: logLevel.NOTHING,
      },
      consumer: { groupId: `${TOPIC}.baseline` },
      subscribe: { fromBeginning: true },
    },
    logger: ['error', 'warn'],
  });
  await app.listen();
  process.stdout.write('baseline ready\n');
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
