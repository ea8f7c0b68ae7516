import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { loadPortalSimConfig } from './config/portal-sim.config';

async function bootstrap(): Promise<void> {
  const config = loadPortalSimConfig();
  const app = await NestFactory.create(AppModule.register(config), { bufferLogs: false });
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
