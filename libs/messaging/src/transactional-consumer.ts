import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';
import { deadLetterRecord, dlqTopicFor, readEvent, reasonFromFailure } from '@lienthong/contracts';
import type { ContractEvent, ContractValidator, ValidationFailure } from '@lienthong/contracts';
import { withTrace } from '@lienthong/observability';
import { ConsumerOffsetStore } from './consumer-offset.store';
import type { EventProducer } from './event-producer';

/** A valid event and where it came from. */
export interface ConsumedEvent {
  event: ContractEvent;
  topic: string;
  partition: number;
  offset: string;
}

export interface TransactionalConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  /** The contract topic whose event types are expected here, when `topic` is a renamed copy (tests). */
  contractTopic?: string;
  dataSource: DataSource;
  validator: ContractValidator;
  /** The process's producer: dead letters go through it. */
  producer: EventProducer;
  /**
   * Applies a partition's valid events, in offset order, inside the transaction that also stores
   * the offset. `afterCommit` registers work (metrics, wake-ups) that runs only once that
   * transaction has committed; a rolled-back batch never runs it.
   */
  handle: (
    events: ConsumedEvent[],
    tx: EntityManager,
    afterCommit: (work: () => void) => void,
  ) => Promise<void>;
  partitionsConsumedConcurrently?: number;
  offsets?: ConsumerOffsetStore;
  /** Where dead letters and failed batches are reported (pino-like); each line carries the event's trace. */
  logger?: ConsumerLogger;
  /** Runs after the database commit and before the Kafka commit: services wake their workers here; tests inject a crash (it must not apply twice). */
  afterDatabaseCommit?: (partition: number, nextOffset: bigint) => Promise<void>;
}

export interface ConsumerLogger {
  warn(fields: object, message: string): void;
}

export interface ConsumerStats {
  applied: number;
  /** Records below the stored offset: applied before a crash, redelivered, not applied again. */
  skipped: number;
  deadLettered: number;
}

/**
 * Consumes a topic in batches, partitions concurrently (order per key holds: a key lives on one
 * partition and a partition's batch is applied in order). For each batch: invalid records go to
 * `<topic>.dlq.v1` with their reason (acks from all replicas, before anything else); then ONE
 * database transaction applies the valid events and stores the next offset; only after it commits
 * is the offset committed to Kafka. A crash between the two redelivers records that the stored
 * offset then skips: no loss, no double application.
 */
export class TransactionalConsumer {
  readonly stats: ConsumerStats = { applied: 0, skipped: 0, deadLettered: 0 };
  private readonly consumer: Consumer;
  private readonly offsets: ConsumerOffsetStore;

  constructor(private readonly options: TransactionalConsumerOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.offsets = options.offsets ?? new ConsumerOffsetStore();
  }

  async start(): Promise<void> {
    await this.options.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    const { topic, partition } = batch;
    const { dataSource, groupId, producer, validator } = this.options;
    const stored = await this.offsets.next(dataSource, groupId, topic, partition);
    const fresh = batch.messages.filter((m) => stored === undefined || BigInt(m.offset) >= stored);
    this.stats.skipped += batch.messages.length - fresh.length;

    const valid: ConsumedEvent[] = [];
    const dead: Array<{ message: KafkaMessage; failure: ValidationFailure }> = [];
    for (const message of fresh) {
      const read = readEvent(
        { key: message.key, value: message.value, headers: message.headers },
        this.options.contractTopic ?? topic,
        validator,
      );
      if (read.ok) valid.push({ event: read.value, topic, partition, offset: message.offset });
      else dead.push({ message, failure: read.failure });
    }

    if (dead.length > 0) {
      const now = new Date();
      await producer.send(
        dlqTopicFor(topic),
        dead.map(({ message, failure }) =>
          deadLetterRecord(
            { key: message.key, value: message.value, headers: message.headers },
            reasonFromFailure(failure),
            {
              sourceTopic: topic,
              partition,
              offset: message.offset,
              consumerGroup: groupId,
              attempts: 1,
              firstFailureAt: now,
              lastFailureAt: now,
            },
          ),
        ),
      );
      this.stats.deadLettered += dead.length;
      for (const { message, failure } of dead) {
        const trace = message.headers?.ce_traceparent?.toString();
        const reason = reasonFromFailure(failure);
        withTrace(trace, () =>
          this.options.logger?.warn(
            {
              topic,
              partition,
              offset: message.offset,
              code: reason.code,
              field: reason.field,
              rule: reason.rule,
            },
            'invalid event sent to the dead-letter queue',
          ),
        );
      }
    }

    const last = batch.messages[batch.messages.length - 1] as KafkaMessage;
    const nextOffset = BigInt(last.offset) + 1n;
    if (fresh.length > 0) {
      const committed: Array<() => void> = [];
      await dataSource.transaction(async (tx) => {
        if (valid.length > 0) await this.options.handle(valid, tx, (work) => committed.push(work));
        await this.offsets.save(tx, groupId, topic, partition, nextOffset);
      });
      this.stats.applied += valid.length;
      for (const work of committed) work();
    }
    await this.options.afterDatabaseCommit?.(partition, nextOffset);
    payload.resolveOffset(last.offset);
    await this.consumer.commitOffsets([{ topic, partition, offset: nextOffset.toString() }]);
    await payload.heartbeat();
  }
}
