import { Module } from '@nestjs/common';
import type { DynamicModule, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { loadVietnamAddressDatabase } from '@lienthong/admin-units';
import { ContractValidator } from '@lienthong/contracts';
import {
  ConsumerOffset1763800000200,
  DeadLetterOriginal1763800000600,
  EventProducer,
  createKafka,
} from '@lienthong/messaging';
import { dataSourceOptions, openDataSource } from '@lienthong/persistence';
import { CommuneCredentials } from './auth/commune-credentials';
import type { IngestGatewayConfig } from './config/ingest-gateway.config';
import { HealthController } from './health.controller';
import { Receipts1763800003000 } from './infrastructure/migrations/1763800003000-receipts';
import { Statuses1763800003100 } from './infrastructure/migrations/1763800003100-statuses';
import { IngestController } from './ingest/ingest.controller';
import { IngestService } from './ingest/ingest.service';
import { ResultsClient } from './ingest/results.client';
import { Statuses } from './ingest/statuses';
import { GATEWAY_CONFIG, PROVINCE_OF, ROOT_LOGGER } from './tokens';

/** Disconnects the producer on shutdown, after the HTTP server stopped taking requests. */
class ProducerLifecycle implements OnApplicationShutdown {
  constructor(private readonly producer: EventProducer) {}

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** ingest-gateway: the commune systems' HTTP API in front of the commune topics. */
@Module({})
export class AppModule {
  static register(config: IngestGatewayConfig, logger: Logger): DynamicModule {
    const persistence = {
      url: config.DATABASE_URL,
      schema: config.DB_SCHEMA,
      migrations: [
        ConsumerOffset1763800000200,
        DeadLetterOriginal1763800000600,
        Receipts1763800003000,
        Statuses1763800003100,
      ],
      applicationName: `ingest-gateway:${config.INSTANCE_ID}`,
      poolSize: 10,
    };
    const communes = loadVietnamAddressDatabase();
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } }),
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(persistence),
          dataSourceFactory: () => openDataSource(persistence),
        }),
        TerminusModule,
      ],
      controllers: [HealthController, IngestController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        {
          provide: PROVINCE_OF,
          useValue: (code: string) => communes.commune(code)?.provinceCode,
        },
        {
          provide: CommuneCredentials,
          useValue: new CommuneCredentials({
            issuer: config.OAUTH_ISSUER,
            audience: config.OAUTH_AUDIENCE,
            jwksUrl: config.OAUTH_JWKS_URL,
          }),
        },
        {
          provide: Kafka,
          useValue: createKafka({
            clientId: `ingest-gateway-${config.INSTANCE_ID}`,
            brokers: config.KAFKA_BROKERS,
            logger,
          }),
        },
        { provide: EventProducer, inject: [Kafka], useFactory: (k: Kafka) => new EventProducer(k) },
        {
          provide: ProducerLifecycle,
          inject: [EventProducer],
          useFactory: (p: EventProducer) => new ProducerLifecycle(p),
        },
        { provide: ContractValidator, useValue: new ContractValidator() },
        IngestService,
        ResultsClient,
        Statuses,
      ],
    };
  }
}
