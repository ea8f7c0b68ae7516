import 'reflect-metadata';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { TransactionalKafkaServer } from '@lienthong/messaging';
import {
  SafeExceptionsFilter,
  createLogger,
  exitGracefullyOnSignals,
} from '@lienthong/observability';
import type { SyncDomain } from './sync-domain';
import type { SyncServiceConfig } from './sync-service.config';
import { SyncServiceModule } from './sync-service.module';

/**
 * A sync service's main: load and check the configuration (a bad value stops the start, naming
 * the variable and the rule), build the service from its domain, consume through the
 * transactional transport, serve HTTP, and stop gracefully on SIGTERM/SIGINT: leave the consumer
 * group after the batch in progress commits, stop claiming, let the pushes in flight finish and be
 * recorded, flush the outbox, close the pools, exit 0.
 */
export async function runSyncService<C extends SyncServiceConfig>(
  domain: SyncDomain<C>,
  loadConfig: () => C,
): Promise<void> {
  try {
    const config = loadConfig();
    const logger = createLogger(domain.service, config.LOG_LEVEL);
    const app = await NestFactory.create(SyncServiceModule.forDomain(domain, config, logger), {
      bufferLogs: true,
    });
    app.useLogger(app.get(NestPinoLogger));
    // Unexpected errors are logged without their properties (a database error carries its parameters).
    app.useGlobalFilters(new SafeExceptionsFilter(app.get(HttpAdapterHost).httpAdapter));
    const server = app.get(TransactionalKafkaServer);
    app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    await app.listen(config.PORT, config.HOST);
    logger.info(
      { url: await app.getUrl(), instance: config.INSTANCE_ID, topic: config.EVENTS_TOPIC },
      `${domain.service} started`,
    );
    exitGracefullyOnSignals(logger, async () => {
      await server.close();
      await app.close();
    });
  } catch (err) {
    process.stderr.write(
      `${domain.service} failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
}
