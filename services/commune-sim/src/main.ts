import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { createLogger } from '@lienthong/observability';
import { AppModule } from './app.module';
import { loadCommuneSimConfig } from './config/commune-sim.config';

async function bootstrap(): Promise<void> {
  const config = loadCommuneSimConfig();
  const logger = createLogger('commune-sim', config.LOG_LEVEL);
  const app = await NestFactory.create(AppModule.register(config, logger), { bufferLogs: true });
  app.useLogger(app.get(NestPinoLogger));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(config.PORT, config.HOST);
  logger.info(
    {
      url: await app.getUrl(),
      topic: config.DOSSIER_TOPIC,
      dossiersPerMinute: config.DOSSIERS_PER_MINUTE,
      timeScale: config.TIME_SCALE,
    },
    'commune-sim started',
  );
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `commune-sim failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
