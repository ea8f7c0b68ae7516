import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { TransactionalKafkaServer } from '@lienthong/messaging';
import { createLogger, exitGracefullyOnSignals } from '@lienthong/observability';
import { AppModule } from './app.module';
import { loadDossierSyncConfig } from './config/dossier-sync.config';
import { SERVICE_NAME } from './config/tokens';

async function bootstrap(): Promise<void> {
  const config = loadDossierSyncConfig();
  const logger = createLogger(SERVICE_NAME, config.LOG_LEVEL);
  const app = await NestFactory.create(AppModule.register(config, logger), { bufferLogs: true });
  app.useLogger(app.get(NestPinoLogger));

  // The dossier topic, through the transactional transport: @EventPattern handlers, offsets
  // committed with the ledger writes.
  const server = app.get(TransactionalKafkaServer);
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.listen(config.PORT, config.HOST);
  logger.info(
    { url: await app.getUrl(), instance: config.INSTANCE_ID, topic: config.DOSSIER_TOPIC },
    'dossier-sync started',
  );

  // Graceful stop: leave the consumer group after the batch in progress commits, stop claiming
  // and let the pushes in flight finish and be recorded, flush the outbox, close the pools, exit 0.
  exitGracefullyOnSignals(logger, async () => {
    await server.close();
    await app.close();
  });
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `dossier-sync failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
