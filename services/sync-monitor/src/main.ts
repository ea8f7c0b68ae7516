import 'reflect-metadata';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import {
  ProblemFilter,
  SafeExceptionsFilter,
  createLogger,
  exitGracefullyOnSignals,
} from '@lienthong/observability';
import { AppModule } from './app.module';
import { SERVICE_NAME, loadSyncMonitorConfig } from './config/sync-monitor.config';

async function bootstrap(): Promise<void> {
  const config = loadSyncMonitorConfig();
  const logger = createLogger(SERVICE_NAME, config.LOG_LEVEL);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config, logger), {
    bufferLogs: true,
  });
  app.useLogger(app.get(NestPinoLogger));
  app.use(cookieParser());
  app.useBodyParser('json', { limit: '256kb' });
  app.useBodyParser('urlencoded', { limit: '64kb', extended: false });
  app.useGlobalFilters(
    new ProblemFilter(new SafeExceptionsFilter(app.get(HttpAdapterHost).httpAdapter), {
      path: '/login',
      apiPrefix: '/api/',
    }),
  );
  await app.listen(config.PORT, config.HOST);
  logger.info({ url: await app.getUrl(), instance: config.INSTANCE_ID }, 'sync-monitor started');
  exitGracefullyOnSignals(logger, () => app.close());
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `sync-monitor failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
