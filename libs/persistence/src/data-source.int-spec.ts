import { EntitySchema } from 'typeorm';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { useTestContext } from '@lienthong/testing';
import { QueryFailedError } from 'typeorm';
import { openDataSource } from './data-source';
import { prepared } from './prepared';

interface Probe {
  id: number;
  communeCode: string;
  note: string;
}

const ProbeEntity = new EntitySchema<Probe>({
  name: 'Probe',
  tableName: 'probe',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    communeCode: { type: String, name: 'commune_code', length: 5 },
    note: { type: String },
  },
});

class CreateProbe1700000000000 implements MigrationInterface {
  name = 'CreateProbe1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `create table probe (id serial primary key, commune_code char(5) not null, note text not null)`,
    );
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table probe');
  }
}

describe('persistence: a TypeORM migration on real PostgreSQL', () => {
  const ctx = useTestContext('persistence');

  const config = () => ({
    url: ctx.stack.databaseUrl,
    schema: ctx.schema,
    migrations: [CreateProbe1700000000000],
    entities: [ProbeEntity],
    applicationName: 'persistence-int-spec',
  });

  it('creates the table in the service schema and round-trips a row with Vietnamese text', async () => {
    const ds = await openDataSource(config());
    try {
      const repo = ds.getRepository(ProbeEntity);
      const saved = await repo.save({
        communeCode: '26740',
        note: 'Phường Sài Gòn — hồ sơ đã tiếp nhận',
      });
      const [row] = await ctx.sql.query<{ commune_code: string; note: string }>(
        `select commune_code, note from "${ctx.schema}".probe where id = $1`,
        [saved.id],
      );
      expect(row).toEqual({ commune_code: '26740', note: 'Phường Sài Gòn — hồ sơ đã tiếp nhận' });
      expect(await repo.findOneByOrFail({ id: saved.id })).toMatchObject({ note: saved.note });
    } finally {
      await ds.destroy();
    }
  });

  it('runs each migration once, however many instances start together', async () => {
    const instances = await Promise.all([openDataSource(config()), openDataSource(config())]);
    try {
      const applied = await ctx.sql.query<{ name: string }>(
        `select name from "${ctx.schema}".typeorm_migrations`,
      );
      expect(applied.map((m) => m.name)).toEqual(['CreateProbe1700000000000']);
    } finally {
      await Promise.all(instances.map((ds) => ds.destroy()));
    }
  });

  it('runs a prepared statement once parsed per connection, in and out of transactions, with errors as usual', async () => {
    const ds = await openDataSource(config());
    // One connection throughout, to see what is prepared on it.
    const runner = ds.createQueryRunner();
    try {
      const insert = prepared(
        'insert into probe (commune_code, note) values ($1, $2) returning note',
      );
      expect(await runner.query(insert, ['26740', 'một'])).toEqual([{ note: 'một' }]);
      await runner.startTransaction();
      expect(await runner.manager.query(insert, ['26740', 'hai'])).toEqual([{ note: 'hai' }]);
      await runner.commitTransaction();
      // The same text gives the same statement; another text another one.
      expect(
        prepared('insert into probe (commune_code, note) values ($1, $2) returning note'),
      ).toBe(insert);
      const count = prepared('select count(*)::int n from probe where note in ($1, $2)');
      expect(await runner.query(count, ['một', 'hai'])).toEqual([{ n: 2 }]);
      // Both were parsed on this connection once and stay prepared there.
      const onConnection = (await runner.query(
        'select statement from pg_prepared_statements order by prepare_time',
      )) as Array<{ statement: string }>;
      expect(onConnection.map((s) => s.statement)).toEqual([String(insert), String(count)]);
      // A failing execution is TypeORM's QueryFailedError with PostgreSQL's code, as unprepared.
      const failure: unknown = await runner
        .query(insert, [null, 'ba'])
        .then(() => undefined)
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(QueryFailedError);
      expect(
        (failure as QueryFailedError & { driverError: { code: string } }).driverError.code,
      ).toBe('23502');
      expect(await ds.query(count, ['một', 'hai'])).toEqual([{ n: 2 }]);
    } finally {
      await runner.release();
      await ds.destroy();
    }
  });

  it('undoes the migration', async () => {
    const ds = await openDataSource(config());
    try {
      await ds.undoLastMigration();
      const tables = await ctx.sql.query(
        `select 1 from information_schema.tables where table_schema = $1 and table_name = 'probe'`,
        [ctx.schema],
      );
      expect(tables).toHaveLength(0);
    } finally {
      await ds.destroy();
    }
  });
});
