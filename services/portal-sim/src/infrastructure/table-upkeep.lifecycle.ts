import { Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { TableUpkeep } from '@lienthong/persistence';
import type { UpkeepLogger, UpkeepSql } from '@lienthong/persistence';

/** The upkeep's structured lines, through Nest's logger (the simulator logs no personal data). */
const upkeepLogger = (logger: Logger): UpkeepLogger => ({
  warn: (obj, msg) => logger.warn(`${msg} ${describe(obj)}`),
  info: (obj, msg) => logger.log(`${msg} ${describe(obj)}`),
});

const describe = (obj: object): string =>
  JSON.stringify(obj, (_key, value: unknown) => (value instanceof Error ? value.message : value));

/**
 * The simulator keeps its own tables as the sync services keep theirs (TableUpkeep): its hot
 * statements are prepared with generic plans, made on each connection at first use, often on
 * empty tables; an analysis is what makes PostgreSQL plan them again as the portal's tables grow.
 * While the server's autovacuum is on, a round reads one setting and does nothing.
 */
export class PortalSimUpkeep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly upkeep: TableUpkeep;

  constructor(db: UpkeepSql, schema: string) {
    this.upkeep = TableUpkeep.forService(db, schema, upkeepLogger(new Logger('TableUpkeep')));
  }

  onApplicationBootstrap(): void {
    this.upkeep.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.upkeep.stop();
  }
}
