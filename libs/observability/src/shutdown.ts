import type { Logger } from 'pino';

/**
 * Graceful stop on SIGTERM / SIGINT, once: log, run `stop` (the service's own order: stop taking
 * work, finish what is in flight, close pools), flush the log, exit 0 — or 1 if stopping failed.
 */
export function exitGracefullyOnSignals(
  logger: Logger,
  stop: () => Promise<void>,
  stopped: () => object = () => ({}),
): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop().then(
        () => {
          logger.info(stopped(), 'stopped cleanly');
          logger.flush();
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          logger.flush();
          process.exit(1);
        },
      );
    });
  }
}
