import { Inject, Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';
import { ContractValidator, TOPICS, readDeadLetter } from '@lienthong/contracts';
import type {
  CommuneIndicators,
  ContractEvent,
  DeadLetterSeen,
  OpsCommandResult,
  PortalExchange,
  ReconcileProgressV1,
  SyncHealthV2,
  SyncStatusV2,
} from '@lienthong/contracts';
import { EventProducer, TransactionalConsumer } from '@lienthong/messaging';
import type { ConsumedRecord, ConsumerHealth } from '@lienthong/messaging';
import { TableUpkeep } from '@lienthong/persistence';
import type { SyncMonitorConfig } from '../config/sync-monitor.config';
import { MONITOR_CONFIG, ROOT_LOGGER } from '../tokens';
import { ReadModelStore } from './read-model.store';

/**
 * Builds the read model from what the sync services publish, each topic through the same
 * transactional consumer as the sync services use: a batch is applied together with its offsets
 * in one transaction of sync-monitor's own schema, so a restart resumes exactly where the read
 * model stands — nothing is rebuilt, nothing counted twice. A record that breaks its contract goes
 * to the DLQ like anywhere else; dead letters themselves are read by their headers and never
 * dead-lettered again (one that is not ours is recorded as such).
 */
@Injectable()
export class ReadModelConsumers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private upkeep: TableUpkeep | undefined;
  private readonly consumers: Array<{ health(): ConsumerHealth; stop(): Promise<void> }> = [];
  private retention: NodeJS.Timeout | undefined;

  constructor(
    @Inject(MONITOR_CONFIG) private readonly config: SyncMonitorConfig,
    private readonly kafka: Kafka,
    private readonly dataSource: DataSource,
    private readonly producer: EventProducer,
    private readonly validator: ContractValidator,
    private readonly store: ReadModelStore,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const common = {
      kafka: this.kafka,
      dataSource: this.dataSource,
      validator: this.validator,
      producer: this.producer,
      logger: this.logger,
    };
    const group = (kind: string) => `${this.config.KAFKA_GROUP_ID}.${kind}`;
    /** A consumer of one contract topic, applying each batch's payloads with `apply`. */
    const contract = (
      kind: string,
      topic: string,
      contractTopic: string,
      apply: (tx: EntityManager, events: Array<ConsumedRecord<ContractEvent>>) => Promise<void>,
    ) =>
      new TransactionalConsumer({
        ...common,
        groupId: group(kind),
        topic,
        contractTopic,
        handle: (events, tx) => apply(tx, events),
      });
    /** `apply` over the batch's payloads, as their contract type. */
    const payloads =
      <T>(apply: (tx: EntityManager, data: T[]) => Promise<void>) =>
      (tx: EntityManager, events: Array<ConsumedRecord<ContractEvent>>) =>
        apply(
          tx,
          events.map((e) => e.event.data as T),
        );
    const statuses = contract(
      'status',
      this.config.SYNC_STATUS_V2_TOPIC,
      TOPICS.syncStatusV2,
      (tx, events) =>
        this.store.applyStatuses(
          tx,
          events.map((e) => ({ id: e.event.envelope.id, status: e.event.data as SyncStatusV2 })),
        ),
    );
    const health = contract(
      'health',
      this.config.SYNC_HEALTH_TOPIC,
      TOPICS.syncHealthV2,
      payloads<SyncHealthV2>((tx, data) => this.store.applyHealth(tx, data)),
    );
    const reconcile = contract(
      'reconcile',
      this.config.SYNC_RECONCILE_TOPIC,
      TOPICS.syncReconcile,
      payloads<ReconcileProgressV1>((tx, data) => this.store.applyReconcile(tx, data)),
    );
    const results = contract(
      'results',
      this.config.OPS_COMMAND_RESULTS_TOPIC,
      TOPICS.opsCommandResults,
      payloads<OpsCommandResult>((tx, data) => this.store.applyCommandResults(tx, data)),
    );
    const exchanges = contract(
      'exchanges',
      this.config.SYNC_EXCHANGES_TOPIC,
      TOPICS.syncExchanges,
      payloads<PortalExchange>((tx, data) => this.store.applyExchanges(tx, data)),
    );
    const indicators = contract(
      'indicators',
      this.config.SYNC_INDICATORS_TOPIC,
      TOPICS.syncIndicators,
      payloads<CommuneIndicators>((tx, data) => this.store.applyIndicators(tx, data)),
    );
    const deadLetters = this.config.DLQ_TOPICS.split(',').map(
      (topic) =>
        new TransactionalConsumer<DeadLetterSeen>({
          ...common,
          groupId: group(`dlq.${topic}`),
          topic,
          read: (record, t) => ({ ok: true, value: readDeadLetter(record, t) }),
          handle: (events, tx) =>
            this.store.applyDeadLetters(
              tx,
              events.map((e) => ({
                topic: e.topic,
                partition: e.partition,
                offset: e.offset,
                letter: e.event,
              })),
            ),
        }),
    );
    for (const c of [statuses, health, reconcile, results, exchanges, indicators, ...deadLetters]) {
      await c.start();
      this.consumers.push(c);
    }
    const purge = () =>
      this.store
        .purgeExchanges(this.dataSource, this.config.MONITOR_EXCHANGE_RETENTION_HOURS)
        .catch((err: unknown) => this.logger.warn({ err }, 'portal exchange retention failed'));
    void purge();
    this.retention = setInterval(() => void purge(), 3_600_000);
    this.retention.unref();
    // Every status rewrites its entity's row: vacuumed and analysed where autovacuum is off.
    this.upkeep = TableUpkeep.forService(this.dataSource, this.config.DB_SCHEMA, this.logger);
    this.upkeep.start();
  }

  /** Problems the consumers report (readiness). */
  problems(): string[] {
    return this.consumers.flatMap((c) => {
      const h = c.health();
      return [h.deadLetterFailing, h.databaseFailing].filter((x): x is string => Boolean(x));
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.retention);
    await this.upkeep?.stop();
    for (const c of this.consumers) await c.stop();
  }
}
