import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { loadVietnamAddressDatabase } from '@lienthong/admin-units';
import { ContractValidator } from '@lienthong/contracts';
import {
  ConsumerOffset1763800000200,
  DeadLetterOriginal1763800000600,
  EventProducer,
  createKafka,
} from '@lienthong/messaging';
import { dataSourceOptions, openDataSource } from '@lienthong/persistence';
import { HealthController } from './api/health.controller';
import { MonitorMetrics } from './api/monitor.metrics';
import { OpsApiController } from './api/ops-api.controller';
import { loadAccounts } from './auth/accounts';
import { AuthGuard } from './auth/auth.guard';
import { Sessions } from './auth/sessions';
import { OpsCommandsPublisher } from './commands/ops-commands.publisher';
import type { SyncMonitorConfig } from './config/sync-monitor.config';
import { DashboardController } from './dashboard/dashboard.controller';
import { ReadModel1763800002000 } from './infrastructure/migrations/1763800002000-read-model';
import { CommandResults1763800002100 } from './infrastructure/migrations/1763800002100-command-results';
import { PortalExchanges1763800002200 } from './infrastructure/migrations/1763800002200-portal-exchanges';
import { CommuneIndicators1763800002300 } from './infrastructure/migrations/1763800002300-commune-indicators';
import { Communes } from './read-model/communes';
import { ReadModelConsumers } from './read-model/read-model.consumers';
import { ReadModelQueries } from './read-model/read-model.queries';
import { ReadModelStore } from './read-model/read-model.store';
import { ACCOUNTS, MONITOR_CONFIG, ROOT_LOGGER } from './tokens';

/** Closes the producer after the consumers stopped (Nest calls shutdown hooks in reverse). */
class Resources {
  constructor(readonly producer: EventProducer) {}

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
  }
}

/**
 * sync-monitor: the read model (its own schema, fed by what the sync services publish), the ops
 * API and the dashboard (every route signed in unless @Public), and operators' commands.
 */
@Global()
@Module({})
export class AppModule {
  static register(config: SyncMonitorConfig, logger: Logger): DynamicModule {
    const persistence = {
      url: config.DATABASE_URL,
      schema: config.DB_SCHEMA,
      migrations: [
        ConsumerOffset1763800000200,
        DeadLetterOriginal1763800000600,
        ReadModel1763800002000,
        CommandResults1763800002100,
        PortalExchanges1763800002200,
        CommuneIndicators1763800002300,
      ],
      applicationName: `sync-monitor:${config.INSTANCE_ID}`,
      poolSize: 10,
    };
    const communes = new Communes(loadVietnamAddressDatabase());
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
      controllers: [HealthController, OpsApiController, DashboardController],
      providers: [
        { provide: MONITOR_CONFIG, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: ACCOUNTS, useValue: loadAccounts(config.MONITOR_ACCOUNTS_FILE) },
        { provide: Communes, useValue: communes },
        {
          provide: Sessions,
          useValue: new Sessions(
            config.MONITOR_SESSION_SECRET,
            config.MONITOR_SESSION_TTL_SECONDS,
            config.MONITOR_OIDC_ISSUER
              ? {
                  issuer: config.MONITOR_OIDC_ISSUER,
                  audience: config.MONITOR_OIDC_AUDIENCE,
                  jwksUrl:
                    config.MONITOR_OIDC_JWKS_URL ||
                    `${config.MONITOR_OIDC_ISSUER.replace(/\/$/, '')}/.well-known/jwks.json`,
                }
              : undefined,
          ),
        },
        { provide: APP_GUARD, useClass: AuthGuard },
        {
          provide: Kafka,
          useValue: createKafka({
            clientId: `sync-monitor-${config.INSTANCE_ID}`,
            brokers: config.KAFKA_BROKERS,
            logger,
          }),
        },
        { provide: EventProducer, inject: [Kafka], useFactory: (k: Kafka) => new EventProducer(k) },
        {
          provide: Resources,
          inject: [EventProducer],
          useFactory: (p: EventProducer) => new Resources(p),
        },
        { provide: ContractValidator, useValue: new ContractValidator() },
        { provide: ReadModelStore, useValue: new ReadModelStore((c) => communes.provinceOf(c)) },
        {
          provide: ReadModelQueries,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new ReadModelQueries(ds, (c) => communes.provinceOf(c)),
        },
        ReadModelConsumers,
        OpsCommandsPublisher,
        {
          provide: MonitorMetrics,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new MonitorMetrics(ds),
        },
      ],
    };
  }
}
