import { DataSource } from 'typeorm';
import type { DataSourceOptions, EntitySchema, MixedList } from 'typeorm';

type MigrationClass = new () => object;

/** How a service (or a test) reaches its own schema. Each service owns exactly one schema. */
export interface PersistenceConfig {
  /** postgres://… connection URL. */
  url: string;
  /** The schema this service owns; its migrations table lives there too. */
  schema: string;
  migrations: MigrationClass[];
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own entity list type
  entities?: MixedList<Function | string | EntitySchema>;
  /** Shown in pg_stat_activity, so an operator sees which service holds a connection. */
  applicationName: string;
  poolSize?: number;
}

/**
 * `env`'s PGOPTIONS (libpq's session settings, e.g. `-c statement_timeout=5s`) come first: libpq
 * lets a connection's own `options` replace PGOPTIONS, and ours must be set, so the operator's are
 * kept by putting them in front. Ours come after them and win where both set one setting (a later
 * `-c` overrides an earlier one): the service's schema is not the operator's to move.
 */
export function dataSourceOptions(
  config: PersistenceConfig,
  env: NodeJS.ProcessEnv = process.env,
): DataSourceOptions {
  const own = `-c search_path="${config.schema}",public -c plan_cache_mode=force_generic_plan`;
  return {
    type: 'postgres',
    url: config.url,
    schema: config.schema,
    entities: config.entities ?? [],
    migrations: config.migrations,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    // Schema changes go through reviewed migrations only (style.md), never synchronize.
    synchronize: false,
    migrationsRun: false,
    applicationName: config.applicationName,
    poolSize: config.poolSize ?? 10,
    // plan_cache_mode touches only named prepared statements (see prepared.ts): key look-ups over
    // unnest() arrays, for which one generic plan is right. In PostgreSQL's default (auto) mode some
    // of them were planned again at every call (a lease renewal: 0.46 ms planning, 0.59 ms running).
    // A generic plan is made on first use, so it must be made again as tables grow: TableUpkeep.
    extra: {
      options: env.PGOPTIONS?.trim() ? `${env.PGOPTIONS.trim()} ${own}` : own,
    },
  };
}

/**
 * Connects and brings the service's schema up to date: creates the schema if it is missing, then
 * runs pending migrations. Several instances starting at once are serialised by an advisory lock,
 * so each migration runs once.
 */
export async function openDataSource(config: PersistenceConfig): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  try {
    await dataSource.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock(hashtext($1))', [
        `lienthong:migrate:${config.schema}`,
      ]);
      await tx.query(`create schema if not exists "${config.schema}"`);
    });
    await runMigrationsLocked(dataSource, config.schema);
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
  return dataSource;
}

async function runMigrationsLocked(dataSource: DataSource, schema: string): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('select pg_advisory_lock(hashtext($1))', [`lienthong:migrate:${schema}`]);
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('select pg_advisory_unlock(hashtext($1))', [
        `lienthong:migrate:${schema}`,
      ]);
    }
  } finally {
    await runner.release();
  }
}
