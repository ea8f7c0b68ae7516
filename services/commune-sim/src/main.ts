import 'reflect-metadata';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import {
  SafeExceptionsFilter,
  createLogger,
  exitGracefullyOnSignals,
} from '@lienthong/observability';
import { AppModule } from './app.module';
import { loadCommuneSimConfig } from './config/commune-sim.config';
import { CommuneTrafficRunner } from './traffic/commune-traffic.runner';

async function bootstrap(): Promise<void> {
  const config = loadCommuneSimConfig();
  const logger = createLogger('commune-sim', config.LOG_LEVEL);
  const app = await NestFactory.create(AppModule.register(config, logger), { bufferLogs: true });
  app.useLogger(app.get(NestPinoLogger));
  app.useGlobalFilters(new SafeExceptionsFilter(app.get(HttpAdapterHost).httpAdapter));
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

  // Graceful stop: no new dossiers, publish what is due, disconnect, exit 0.
  const runner = app.get(CommuneTrafficRunner);
  exitGracefullyOnSignals(
    logger,
    () => app.close(),
    () => runner.stats,
  );
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `commune-sim failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
