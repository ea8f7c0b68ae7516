import { Client } from 'pg';
import { expectEventually, useTestContext } from '@lienthong/testing';
import { DataSource } from 'typeorm';
import { TableUpkeep, UPKEEP_STATISTICS_TARGET } from './table-upkeep';
import type { UpkeepSql } from './table-upkeep';

describe('persistence: TableUpkeep vacuums and analyses the service schema on real PostgreSQL', () => {
  const ctx = useTestContext('table-upkeep');
  let writer: Client;
  let service: Client;

  const stat = async (column: 'n_mod_since_analyze' | 'n_dead_tup'): Promise<number> => {
    const [row] = await ctx.sql.query<{ n: string }>(
      `select ${column} n from pg_stat_user_tables where schemaname = $1 and relname = 'churn'`,
      [ctx.schema],
    );
    return Number(row?.n ?? 0);
  };
  /** The writer's statistics reach the server at its next transaction end (pg_stat_force_next_flush). */
  const write = async (sql: string) => {
    await writer.query(sql);
    // Reported at the end of this statement's transaction, not at the next idle flush (10 s).
    await writer.query('select pg_stat_force_next_flush()');
  };
  /** The plan of the service connection's prepared update, as a service's pool would run it. */
  const plan = async (): Promise<string> => {
    const rows = (await service.query(`explain execute mark('{1,2,3}')`)).rows as Array<{
      'QUERY PLAN': string;
    }>;
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };
  const sql = (): UpkeepSql => ({
    query: async <T>(text: string, params?: unknown[]) =>
      (await ctx.sql.query(text, params ?? [])) as T,
  });
  const upkeep = () =>
    new TableUpkeep(sql(), { schema: ctx.schema, everyMs: 60_000, always: true });

  beforeAll(async () => {
    const options = `-c search_path="${ctx.schema}" -c plan_cache_mode=force_generic_plan`;
    writer = new Client({ connectionString: ctx.stack.databaseUrl, options });
    service = new Client({ connectionString: ctx.stack.databaseUrl, options });
    await writer.connect();
    await service.connect();
    await writer.query('create table churn (id bigint primary key, v text not null)');
    // A young table, as a service's first statements see it.
    await writer.query(`insert into churn select n, 'a' from generate_series(1, 77) n`);
    await writer.query('analyze churn');
    await service.query('prepare mark(bigint[]) as update churn set v = $$b$$ where id = any($1)');
  });

  afterAll(async () => {
    await writer?.end();
    await service?.end();
  });

  it('analyses a grown table, and the generic plan made on it young reads it by index again', async () => {
    expect(await plan()).toMatch(/Seq Scan on churn/);
    await write(`insert into churn select n, 'a' from generate_series(78, 50000) n`);
    await expectEventually(async () =>
      expect(await stat('n_mod_since_analyze')).toBeGreaterThanOrEqual(49_923),
    );
    // Grown, but the plan made on 77 rows stays: nothing told PostgreSQL to plan it again.
    expect(await plan()).toMatch(/Seq Scan on churn/);

    const round = await upkeep().runOnce();

    expect(round).toEqual({ ran: true, vacuumed: [], analyzed: ['churn'] });
    expect(await plan()).toMatch(/Index Scan using churn_pkey/);
  });

  it('vacuums a table whose dead rows pass the threshold, and leaves alone one that does not', async () => {
    await write('delete from churn where id > 100');
    await expectEventually(async () =>
      expect(await stat('n_dead_tup')).toBeGreaterThanOrEqual(49_900),
    );

    const first = await upkeep().runOnce();
    expect(first).toEqual({ ran: true, vacuumed: ['churn'], analyzed: [] });
    await expectEventually(async () => expect(await stat('n_dead_tup')).toBeLessThan(100));

    await write('delete from churn where id <= 5');
    await expectEventually(async () => expect(await stat('n_dead_tup')).toBeGreaterThanOrEqual(5));
    expect(await upkeep().runOnce()).toEqual({ ran: true, vacuumed: [], analyzed: [] });
  });

  it("analyses with the upkeep's smaller sample, and gives the pooled connection back with the server's default", async () => {
    // What a service hands the upkeep: a TypeORM DataSource; one connection, so the same one is
    // asked afterwards what its default is.
    const db = new DataSource({
      type: 'postgres',
      url: ctx.stack.databaseUrl,
      poolSize: 1,
      extra: { options: `-c search_path="${ctx.schema}"` },
    });
    await db.initialize();
    try {
      const [server] = await db.query<Array<{ target: string }>>(
        `select current_setting('default_statistics_target') target`,
      );
      await write(`insert into churn select n, 'a' from generate_series(200, 40000) n`);
      await expectEventually(async () =>
        expect(await stat('n_mod_since_analyze')).toBeGreaterThanOrEqual(39_801),
      );
      const round = await new TableUpkeep(db, {
        schema: ctx.schema,
        everyMs: 60_000,
        always: true,
      }).runOnce();
      expect(round.analyzed).toEqual(['churn']);
      // 40,000 distinct ids: a histogram has a bound per target step plus one.
      const [described] = await db.query<Array<{ bounds: number }>>(
        `select array_length(histogram_bounds, 1) bounds from pg_stats
          where schemaname = $1 and tablename = 'churn' and attname = 'id'`,
        [ctx.schema],
      );
      expect(described?.bounds).toBe(UPKEEP_STATISTICS_TARGET + 1);
      const [after] = await db.query<Array<{ target: string }>>(
        `select current_setting('default_statistics_target') target`,
      );
      expect(after?.target).toBe(server?.target);
      expect(Number(server?.target)).toBeGreaterThan(UPKEEP_STATISTICS_TARGET);
    } finally {
      await db.destroy();
    }
  });

  it('does nothing while the server runs autovacuum itself', async () => {
    const [setting] = await ctx.sql.query<{ on: boolean }>(
      `select current_setting('autovacuum') = 'on' as on`,
    );
    const round = await new TableUpkeep(sql(), { schema: ctx.schema, everyMs: 60_000 }).runOnce();
    expect(round.ran).toBe(!setting?.on);
  });
});
