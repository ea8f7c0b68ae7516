import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { LogLevel } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { SafeExceptionsFilter } from '@lienthong/observability';
import { AppModule } from './app.module';
import { loadPortalSimConfig } from './config/portal-sim.config';

async function bootstrap(): Promise<void> {
  const config = loadPortalSimConfig();
  // LOG_LEVEL (as the other services read it): warn hides Nest's start-up chatter.
  const order: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];
  const wanted = { error: 'error', warn: 'warn', info: 'log', debug: 'verbose' }[
    process.env.LOG_LEVEL ?? 'info'
  ] as LogLevel | undefined;
  const app = await NestFactory.create(AppModule.register(config), {
    bufferLogs: false,
    logger: order.slice(0, order.indexOf(wanted ?? 'log') + 1),
  });
  // Unexpected errors are logged without their properties (a database error carries its parameters).
  app.useGlobalFilters(new SafeExceptionsFilter(app.get(HttpAdapterHost).httpAdapter));
  await app.listen(config.PORT, config.HOST);
  Logger.log(`portal-sim listening on ${await app.getUrl()}`, 'Bootstrap');
  // Graceful stop: finish in-flight requests, close the pool, exit 0 (orchestrators read a
  // non-zero or signalled exit as a crash).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      Logger.log(`${signal}: shutting down`, 'Bootstrap');
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `portal-sim failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
