import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Consumer, EachMessagePayload, ICustomPartitioner, Producer } from 'kafkajs';
import { kafkaPrincipalSasl } from './test-env';

/**
 * The tests' Kafka client, authenticated as `principal` on the local stack (by default `test`,
 * which may use only `test.`/`bench.` topics; docs/security.md). Its errors (expected ones too: chaos tests restart the broker) go to
 * stderr as one line each, not through jest's console with a stack trace per line.
 */
export function testKafka(
  brokers: string[],
  clientId = 'lienthong-test',
  principal = 'test',
): Kafka {
  return new Kafka({
    clientId,
    brokers,
    sasl: kafkaPrincipalSasl(principal),
    logLevel: logLevel.ERROR,
    logCreator:
      () =>
      ({ namespace, log }) =>
        process.stderr.write(`[kafkajs ${clientId}] ${namespace}: ${log.message}\n`),
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/** An idempotent producer, connected; `createPartitioner` if not kafkajs' default. */
export async function connectedProducer(
  kafka: Kafka,
  createPartitioner?: ICustomPartitioner,
): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(createPartitioner ? { createPartitioner } : {}),
  });
  await producer.connect();
  return producer;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * A consumer that records every message it sees, in arrival order, for assertions. It commits
 * offsets as it goes (its own random group), so a broker restart resumes rather than re-reads.
 */
export class RecordingConsumer {
  readonly messages: ConsumedMessage[] = [];
  private readonly consumer: Consumer;

  constructor(kafka: Kafka, groupId = `test-${randomUUID()}`) {
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 3000 },
    });
  }

  async start(topic: string): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: ({ topic: t, partition, message }: EachMessagePayload) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
        }
        this.messages.push({
          topic: t,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers,
        });
        return Promise.resolve();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
