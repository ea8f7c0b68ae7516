import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { loadVietnamAddressDatabase } from '@lienthong/admin-units';
import { ContractValidator } from '@lienthong/contracts';
import {
  ConsumerOffset1763800000200,
  DeadLetterOriginal1763800000600,
  EventProducer,
  TransactionalKafkaServer,
  createKafka,
} from '@lienthong/messaging';
import { dataSourceOptions, openDataSource } from '@lienthong/persistence';
import {
  PortalExchange1763800000100,
  PortalGateway,
  PostgresExchangeRecorder,
  ResilienceMetrics,
} from '@lienthong/resilience';
import {
  LedgerFiguresReader,
  LedgerIngest,
  PushTarget,
  SYNC_LEDGER_MIGRATIONS,
} from '@lienthong/sync-engine';
import { authorizedEvents } from './authorized-events';
import { domainEventsController } from './domain-events.controller';
import { HealthController } from './health.controller';
import { KafkaProbe } from './kafka-probe';
import { MetricsController } from './metrics.controller';
import { OpsCommands } from './ops-commands.service';
import { ResultsController } from './results.controller';
import type { SyncDomain } from './sync-domain';
import { portalSettings } from './sync-service.config';
import type { SyncServiceConfig } from './sync-service.config';
import { SyncSignals } from './sync-signals';
import { SyncWorkers } from './sync-workers.service';
import { SyncMetrics } from './sync.metrics';
import { ROOT_LOGGER, SYNC_CONFIG, SYNC_DOMAIN } from './tokens';

/** Closes what the providers opened, after the workers stopped (Nest calls shutdown hooks in reverse). */
class Resources {
  constructor(
    readonly producer: EventProducer,
    readonly recorder: PostgresExchangeRecorder,
    readonly pool: Pool,
    readonly gateway: PortalGateway,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
    await this.gateway.shutdown();
    await this.recorder.close();
    await this.pool.end();
  }
}

/**
 * A whole sync service from its domain (contract topic, ledger mapping, push target) and its
 * validated configuration: the transactional Kafka consumer feeding the ledger, the dispatcher
 * pushing through the target's gateway, the outbox relay, sync.health reports, /health, /metrics,
 * pino logs and a graceful stop. The push target is provided as the `PushTarget` port.
 */
@Global()
@Module({})
export class SyncServiceModule {
  static forDomain<C extends SyncServiceConfig>(
    domain: SyncDomain<C>,
    config: C,
    logger: Logger,
  ): DynamicModule {
    const persistence = {
      url: config.DATABASE_URL,
      schema: config.DB_SCHEMA,
      migrations: [
        ConsumerOffset1763800000200,
        PortalExchange1763800000100,
        ...SYNC_LEDGER_MIGRATIONS,
        DeadLetterOriginal1763800000600,
      ],
      applicationName: `${domain.service}:${config.INSTANCE_ID}`,
      poolSize: config.DISPATCH_CONCURRENCY + config.KAFKA_PARTITIONS_CONCURRENTLY + 4,
    };
    const portal = portalSettings(config, domain.target.prefix);
    // Which province each commune is in: a province system may publish for its communes only.
    const communes = loadVietnamAddressDatabase();
    return {
      module: SyncServiceModule,
      imports: [
        LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(persistence),
          // openDataSource creates the schema and runs migrations under an advisory lock.
          dataSourceFactory: () => openDataSource(persistence),
        }),
        TerminusModule,
      ],
      controllers: [
        domainEventsController(domain.contractTopic),
        HealthController,
        MetricsController,
        ResultsController,
        ...(domain.controllers ?? []),
      ],
      providers: [
        { provide: SYNC_CONFIG, useValue: config },
        { provide: SYNC_DOMAIN, useValue: domain },
        { provide: ROOT_LOGGER, useValue: logger },
        {
          provide: Kafka,
          useValue: createKafka({
            clientId: `${domain.service}-${config.INSTANCE_ID}`,
            brokers: config.KAFKA_BROKERS,
            logger,
          }),
        },
        { provide: EventProducer, inject: [Kafka], useFactory: (k: Kafka) => new EventProducer(k) },
        {
          provide: LedgerFiguresReader,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new LedgerFiguresReader(ds, config.METRICS_REFRESH_MS),
        },
        {
          provide: SyncMetrics,
          inject: [LedgerFiguresReader],
          useFactory: (figures: LedgerFiguresReader) => new SyncMetrics(figures, domain.service),
        },
        {
          provide: Pool,
          useFactory: () => {
            const pool = new Pool({
              connectionString: config.DATABASE_URL,
              max: 2,
              application_name: domain.service,
            });
            // An idle connection the server closed (a database restart) is dropped and replaced
            // on next use; unheard, the error would end the process.
            pool.on('error', (err) =>
              logger.warn({ err }, 'exchange-record pool lost a connection'),
            );
            return pool;
          },
        },
        {
          provide: PostgresExchangeRecorder,
          inject: [Pool],
          useFactory: (pool: Pool) =>
            new PostgresExchangeRecorder(pool, `"${config.DB_SCHEMA}".portal_exchange`, (err) =>
              logger.error({ err }, 'exchange record write failed'),
            ),
        },
        {
          provide: PortalGateway,
          inject: [PostgresExchangeRecorder, SyncMetrics],
          useFactory: (recorder: PostgresExchangeRecorder, metrics: SyncMetrics) =>
            new PortalGateway(
              {
                target: domain.target.name,
                breaker: {
                  timeoutMs: portal.TIMEOUT_MS,
                  volumeThreshold: portal.BREAKER_VOLUME_THRESHOLD,
                  errorThresholdPercentage: portal.BREAKER_ERROR_PERCENTAGE,
                  resetTimeoutMs: portal.BREAKER_RESET_TIMEOUT_MS,
                  rollingCountTimeoutMs: 10_000,
                },
                // In-process retries for lookups and logins only; pushes retry through the ledger.
                retry: {
                  initialIntervalMs: 100,
                  backoffCoefficient: 2,
                  maximumIntervalMs: 1000,
                  maximumAttempts: 3,
                },
                maxConcurrent: portal.MAX_CONCURRENT,
                maxRetryAfterMs: portal.MAX_RETRY_AFTER_MS,
                holdMs: portal.HOLD_MS,
                maxHoldMs: Math.max(portal.HOLD_MS, portal.MAX_HOLD_MS),
                ...(portal.RATE_LIMIT_PER_SECOND > 0
                  ? { rateLimitPerSecond: portal.RATE_LIMIT_PER_SECOND }
                  : {}),
              },
              recorder,
              new ResilienceMetrics(metrics.registry),
            ),
        },
        {
          provide: PushTarget,
          inject: [PortalGateway],
          useFactory: (gateway: PortalGateway) => domain.target.pushTarget(gateway, config),
        },
        {
          provide: Resources,
          inject: [EventProducer, PostgresExchangeRecorder, Pool, PortalGateway],
          useFactory: (
            p: EventProducer,
            r: PostgresExchangeRecorder,
            pool: Pool,
            g: PortalGateway,
          ) => new Resources(p, r, pool, g),
        },
        { provide: LedgerIngest, useValue: new LedgerIngest(domain.service) },
        { provide: ContractValidator, useValue: new ContractValidator() },
        { provide: SyncSignals, useValue: new SyncSignals() },
        {
          provide: TransactionalKafkaServer,
          inject: [Kafka, DataSource, EventProducer, SyncMetrics, SyncSignals, ContractValidator],
          useFactory: (
            kafka: Kafka,
            dataSource: DataSource,
            producer: EventProducer,
            metrics: SyncMetrics,
            signals: SyncSignals,
            validator: ContractValidator,
          ) => {
            const server = new TransactionalKafkaServer({
              kafka,
              groupId: config.KAFKA_GROUP_ID,
              topic: config.EVENTS_TOPIC,
              contractTopic: domain.contractTopic,
              dataSource,
              validator,
              read: authorizedEvents(
                domain.contractTopic,
                validator,
                (code) => communes.commune(code)?.provinceCode,
              ),
              producer,
              partitionsConsumedConcurrently: config.KAFKA_PARTITIONS_CONCURRENTLY,
              // 0 leaves it off: one transaction per partition.
              maxRecordsPerTransaction: config.KAFKA_RECORDS_PER_TRANSACTION,
              fetch: {
                maxBytes: config.KAFKA_FETCH_MAX_BYTES,
                maxBytesPerPartition: config.KAFKA_FETCH_MAX_BYTES_PER_PARTITION,
                minBytes: config.KAFKA_FETCH_MIN_BYTES,
                maxWaitTimeInMs: config.KAFKA_FETCH_MAX_WAIT_MS,
              },
              sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
              maxHandleAttempts: config.MAX_HANDLE_ATTEMPTS,
              logger,
              // New ledger rows and ACCEPTED statuses are committed: no need to wait for the next poll.
              afterDatabaseCommit: () => {
                signals.dispatch.notify();
                signals.relay.notify();
                return Promise.resolve();
              },
            });
            metrics.watchConsumer(() => server.stats);
            return server;
          },
        },
        KafkaProbe,
        SyncWorkers,
        OpsCommands,
      ],
    };
  }
}
