import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { ContractValidator, TOPICS } from '@lienthong/contracts';
import {
  ConsumerOffset1763800000200,
  DeadLetterOriginal1763800000600,
  EventProducer,
  TransactionalKafkaServer,
  createKafka,
} from '@lienthong/messaging';
import { dataSourceOptions, openDataSource } from '@lienthong/persistence';
import { DvcqgClient } from '@lienthong/portal-clients';
import {
  PortalExchange1763800000100,
  PortalGateway,
  PostgresExchangeRecorder,
  ResilienceMetrics,
} from '@lienthong/resilience';
import { LedgerFiguresReader, LedgerIngest, SYNC_LEDGER_MIGRATIONS } from '@lienthong/sync-engine';
import { DataSource } from 'typeorm';
import type { DossierSyncConfig } from './config/dossier-sync.config';
import { DOSSIER_SYNC_CONFIG, ROOT_LOGGER, SERVICE_NAME } from './config/tokens';
import { DvcqgPushTarget } from './modules/dvcqg/dvcqg.push-target';
import { HealthController } from './modules/health/health.controller';
import { KafkaProbe } from './modules/health/kafka-probe';
import { DossierEventsController } from './modules/ingest/dossier-events.controller';
import { MetricsController } from './modules/metrics/metrics.controller';
import { SyncMetrics } from './modules/metrics/sync.metrics';
import { SyncSignals } from './modules/sync/sync-signals';
import { SyncWorkers } from './modules/sync/sync-workers.service';

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

@Global()
@Module({})
export class AppModule {
  /** The whole service, wired from one validated configuration and one root logger. */
  static register(config: DossierSyncConfig, logger: Logger): DynamicModule {
    const persistence = {
      url: config.DATABASE_URL,
      schema: config.DOSSIER_SYNC_SCHEMA,
      migrations: [
        ConsumerOffset1763800000200,
        PortalExchange1763800000100,
        ...SYNC_LEDGER_MIGRATIONS,
        DeadLetterOriginal1763800000600,
      ],
      applicationName: `${SERVICE_NAME}:${config.INSTANCE_ID}`,
      poolSize: config.DISPATCH_CONCURRENCY + config.KAFKA_PARTITIONS_CONCURRENTLY + 4,
    };
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(persistence),
          // openDataSource creates the schema and runs migrations under an advisory lock.
          dataSourceFactory: () => openDataSource(persistence),
        }),
        TerminusModule,
      ],
      controllers: [DossierEventsController, HealthController, MetricsController],
      providers: [
        { provide: DOSSIER_SYNC_CONFIG, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        {
          provide: Kafka,
          useValue: createKafka({
            clientId: `${SERVICE_NAME}-${config.INSTANCE_ID}`,
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
          useFactory: (figures: LedgerFiguresReader) => new SyncMetrics(figures, SERVICE_NAME),
        },
        {
          provide: Pool,
          useFactory: () => {
            const pool = new Pool({
              connectionString: config.DATABASE_URL,
              max: 2,
              application_name: SERVICE_NAME,
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
            new PostgresExchangeRecorder(
              pool,
              `"${config.DOSSIER_SYNC_SCHEMA}".portal_exchange`,
              (err) => logger.error({ err }, 'exchange record write failed'),
            ),
        },
        {
          provide: PortalGateway,
          inject: [PostgresExchangeRecorder, SyncMetrics],
          useFactory: (recorder: PostgresExchangeRecorder, metrics: SyncMetrics) =>
            new PortalGateway(
              {
                target: 'dvcqg',
                breaker: {
                  timeoutMs: config.DVCQG_TIMEOUT_MS,
                  volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
                  errorThresholdPercentage: config.BREAKER_ERROR_PERCENTAGE,
                  resetTimeoutMs: config.BREAKER_RESET_TIMEOUT_MS,
                  rollingCountTimeoutMs: 10_000,
                },
                // In-process retries for lookups and logins only; pushes retry through the ledger.
                retry: {
                  initialIntervalMs: 100,
                  backoffCoefficient: 2,
                  maximumIntervalMs: 1000,
                  maximumAttempts: 3,
                },
                maxConcurrent: config.DVCQG_MAX_CONCURRENT,
                maxRetryAfterMs: config.DVCQG_MAX_RETRY_AFTER_MS,
                holdMs: config.DVCQG_HOLD_MS,
                maxHoldMs: Math.max(config.DVCQG_HOLD_MS, config.DVCQG_MAX_HOLD_MS),
                ...(config.DVCQG_RATE_LIMIT_PER_SECOND > 0
                  ? { rateLimitPerSecond: config.DVCQG_RATE_LIMIT_PER_SECOND }
                  : {}),
              },
              recorder,
              new ResilienceMetrics(metrics.registry),
            ),
        },
        {
          provide: DvcqgClient,
          inject: [PortalGateway],
          useFactory: (gateway: PortalGateway) =>
            new DvcqgClient(
              {
                baseUrl: config.DVCQG_BASE_URL,
                username: config.DVCQG_USERNAME,
                password: config.DVCQG_PASSWORD,
                unitCode: config.DVCQG_UNIT_CODE,
              },
              gateway,
            ),
        },
        {
          provide: DvcqgPushTarget,
          inject: [DvcqgClient, PortalGateway],
          useFactory: (client: DvcqgClient, gateway: PortalGateway) =>
            new DvcqgPushTarget(client, gateway),
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
        { provide: LedgerIngest, useValue: new LedgerIngest(SERVICE_NAME) },
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
              topic: config.DOSSIER_TOPIC,
              contractTopic: TOPICS.communeDossierEvents,
              dataSource,
              validator,
              producer,
              partitionsConsumedConcurrently: config.KAFKA_PARTITIONS_CONCURRENTLY,
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
      ],
    };
  }
}
