import { readFileSync } from 'node:fs';
import { Inject, Module, RequestMethod } from '@nestjs/common';
import type {
  DynamicModule,
  MiddlewareConsumer,
  NestModule,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { EventProducer, createKafka } from '@lienthong/messaging';
import { adminTokenMiddleware } from '@lienthong/observability';
import { CommuneTraffic, FIXTURE_COMMUNES } from '@lienthong/simulation';
import type { CommuneSimConfig } from './config/commune-sim.config';
import { HealthController } from './health.controller';
import { CommuneTrafficRunner } from './traffic/commune-traffic.runner';
import { GatewaySink } from './traffic/gateway-sink';
import { TrafficController } from './traffic/traffic.controller';

/** Starts the traffic once the app is up; on shutdown stops it, flushes what is due, disconnects. */
class Lifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly runner: CommuneTrafficRunner,
    private readonly producer: EventProducer,
  ) {}

  onApplicationBootstrap(): void {
    this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
    await this.producer.disconnect();
  }
}

/** Each commune client's secret: from the file (`client_id secret` per line), else the demo's. */
function clientSecrets(file: string): (client: string) => string {
  if (!file) return (client) => `${client}-demo`;
  const secrets = new Map(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((parts): parts is [string, string] => parts.length === 2),
  );
  return (client) => {
    const secret = secrets.get(client);
    if (secret === undefined) throw new Error(`IDP_CLIENT_SECRETS_FILE: no secret for ${client}`);
    return secret;
  };
}

const COMMUNE_SIM_CONFIG = Symbol('COMMUNE_SIM_CONFIG');

@Module({})
export class AppModule implements NestModule {
  constructor(@Inject(COMMUNE_SIM_CONFIG) private readonly config: CommuneSimConfig) {}

  /** Changing the rates takes the admin bearer token; reading them does not. */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(adminTokenMiddleware(this.config.COMMUNE_SIM_ADMIN_TOKEN, 'COMMUNE_SIM_ADMIN_TOKEN'))
      .forRoutes({ path: 'traffic', method: RequestMethod.PUT });
  }

  static register(config: CommuneSimConfig, logger: Logger): DynamicModule {
    const wanted = new Set(config.COMMUNES.split(',').filter(Boolean));
    const communes = FIXTURE_COMMUNES.filter((c) => wanted.size === 0 || wanted.has(c.code));
    const kafka = createKafka({ clientId: 'commune-sim', brokers: config.KAFKA_BROKERS, logger });
    const producer = new EventProducer(kafka);
    // A fresh seed per run unless one is given: the same seed replays the same entities.
    const seed = config.SEED || Date.now() % 2_000_000_000;
    logger.info({ seed }, 'commune traffic seed (SEED=<n> replays this run)');
    const runner = new CommuneTrafficRunner(
      new CommuneTraffic({
        dossiersPerMinute: config.DOSSIERS_PER_MINUTE,
        civilStatusPerMinute: config.CIVIL_STATUS_PER_MINUTE,
        landPerMinute: config.LAND_PER_MINUTE,
        timeScale: config.TIME_SCALE,
        mistakeRatio: config.MISTAKE_RATIO,
        communes,
        seed,
        startAt: Date.now(),
      }),
      config.INGEST_GATEWAY_URL
        ? new GatewaySink(
            {
              gatewayUrl: config.INGEST_GATEWAY_URL,
              tokenUrl: config.IDP_TOKEN_URL,
              secretOf: clientSecrets(config.IDP_CLIENT_SECRETS_FILE),
              maxBatch: 500,
            },
            logger,
          )
        : producer,
      {
        dossier: config.DOSSIER_TOPIC,
        'civil-status': config.CIVIL_STATUS_TOPIC,
        land: config.LAND_TOPIC,
      },
      logger,
    );
    return {
      module: AppModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } })],
      controllers: [TrafficController, HealthController],
      providers: [
        { provide: COMMUNE_SIM_CONFIG, useValue: config },
        { provide: CommuneTrafficRunner, useValue: runner },
        { provide: EventProducer, useValue: producer },
        {
          provide: Lifecycle,
          inject: [CommuneTrafficRunner, EventProducer],
          useFactory: (r: CommuneTrafficRunner, p: EventProducer) => new Lifecycle(r, p),
        },
      ],
    };
  }
}
