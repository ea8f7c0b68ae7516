import { Server } from '@nestjs/microservices';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { BaseRpcContext } from '@nestjs/microservices/ctx-host/base-rpc.context';
import { lastValueFrom } from 'rxjs';
import type { EntityManager } from 'typeorm';
import { TransactionalConsumer } from '../transactional-consumer';
import type {
  ConsumedEvent,
  ConsumerHealth,
  ConsumerStats,
  HandlerRejection,
  HandlerTools,
  TransactionalConsumerOptions,
} from '../transactional-consumer';

/** What an `@EventPattern(topic)` handler gets besides the batch: where it came from and the transaction. */
export class TransactionalBatchContext extends BaseRpcContext<
  [topic: string, partition: number, tx: EntityManager, tools: HandlerTools]
> {
  getTopic(): string {
    return this.args[0];
  }
  /** The partition of the batch's first event (with maxRecordsPerTransaction, each event says its own). */
  getPartition(): number {
    return this.args[1];
  }
  /** The open transaction: the handler's writes commit together with the consumed offsets, or not at all. */
  getTransaction(): EntityManager {
    return this.args[2];
  }
  /** Runs `work` once the transaction has committed (never if it rolls back): metrics, wake-ups. */
  afterCommit(work: () => void): void {
    this.args[3].afterCommit(work);
  }
  /** Refuses one event: it goes to the DLQ (stage handle) with this reason; leave no trace of it. */
  reject(event: ConsumedEvent, reason: HandlerRejection): void {
    this.args[3].reject(event, reason);
  }
}

export type TransactionalKafkaOptions = Omit<TransactionalConsumerOptions, 'handle'>;

/**
 * A NestJS custom transport (`app.connectMicroservice({ strategy })`) on top of
 * TransactionalConsumer, so services keep the `@EventPattern` style:
 *
 *   @EventPattern(TOPICS.communeDossierEvents)
 *   ingest(@Payload() events: ConsumedEvent[], @Ctx() ctx: TransactionalBatchContext) { … }
 *
 * The handler receives one partition's valid events in offset order, or with
 * `maxRecordsPerTransaction` several partitions' (invalid ones went to the DLQ already) and runs inside the database transaction that also stores the offsets; it must
 * return (or resolve) before the transaction commits, and a throw rolls the batch back so Kafka
 * redelivers it. Nest's stock Kafka transport cannot give this: it resolves offsets per message
 * outside any database transaction.
 */
export class TransactionalKafkaServer extends Server implements CustomTransportStrategy {
  private consumer: TransactionalConsumer | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: TransactionalKafkaOptions) {
    super();
  }

  /** What the consumer did so far (for metrics); undefined before it listens. */
  get stats(): ConsumerStats | undefined {
    return this.consumer?.stats;
  }

  /** What readiness needs (DLQ writable, database accepting work, offset notices). */
  health(): ConsumerHealth | undefined {
    return this.consumer?.health();
  }

  /** The pattern handlers subscribe with: the contract topic (tests consume a renamed copy of it). */
  get pattern(): string {
    return this.options.contractTopic ?? this.options.topic;
  }

  listen(callback: (err?: unknown) => void): void {
    const handler = this.getHandlerByPattern(this.pattern);
    if (!handler) {
      callback(new Error(`no @EventPattern('${this.pattern}') handler is registered`));
      return;
    }
    this.consumer = new TransactionalConsumer({
      ...this.options,
      handle: async (events: ConsumedEvent[], tx: EntityManager, tools) => {
        const first = events[0] as ConsumedEvent;
        const ctx = new TransactionalBatchContext([first.topic, first.partition, tx, tools]);
        const result: unknown = await handler(events, ctx);
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
      },
    });
    this.consumer.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  /** Leaves the group after the batch in progress is committed (kafkajs finishes it before disconnecting). */
  async close(): Promise<void> {
    this.closed ??= this.consumer?.stop();
    await this.closed;
  }

  on(): never {
    throw new Error('TransactionalKafkaServer emits no events; watch its stats instead');
  }

  unwrap<T>(): T {
    if (!this.consumer) throw new Error('TransactionalKafkaServer is not listening yet');
    return this.consumer as T;
  }
}
