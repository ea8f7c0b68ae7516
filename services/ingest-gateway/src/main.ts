import 'reflect-metadata';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { EventProducer } from '@lienthong/messaging';
import {
  ProblemFilter,
  SafeExceptionsFilter,
  createLogger,
  exitGracefullyOnSignals,
} from '@lienthong/observability';
import { AppModule } from './app.module';
import { SERVICE_NAME, loadIngestGatewayConfig } from './config/ingest-gateway.config';

async function bootstrap(): Promise<void> {
  const config = loadIngestGatewayConfig();
  const logger = createLogger(SERVICE_NAME, config.LOG_LEVEL);
  // The body is read by the controller itself (size limit, problem details for every failure).
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config, logger), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(NestPinoLogger));
  app.useGlobalFilters(
    new ProblemFilter(new SafeExceptionsFilter(app.get(HttpAdapterHost).httpAdapter)),
  );
  // Ready only once Kafka answers: a 202 must mean the events are on Kafka.
  await app.get(EventProducer).connect();
  await app.listen(config.PORT, config.HOST);
  logger.info({ url: await app.getUrl(), instance: config.INSTANCE_ID }, 'ingest-gateway started');
  exitGracefullyOnSignals(logger, () => app.close());
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `ingest-gateway failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
