import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { useTestContext } from '@lienthong/testing';
import { LedgerFiguresReader } from './ledger-figures';
import { LedgerIngest } from './ledger-ingest';
import type { LedgerItem } from './ledger-ingest';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';

describe('the sync ledger schema and its figures (real PostgreSQL)', () => {
  const ctx = useTestContext('sync-ledger');
  const open = () =>
    openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'sync-ledger-int-spec',
    });
  const tables = async () =>
    (
      await ctx.sql.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = $1 and table_name <> 'typeorm_migrations' order by 1`,
        [ctx.schema],
      )
    ).map((t) => t.table_name);
  const item = (key: string, sequence: number): LedgerItem => ({
    eventId: randomUUID(),
    source: '/communes/26734/test',
    domain: 'dossier',
    entityType: 'dossier',
    entityKey: key,
    communeCode: '26734',
    target: 'dvcqg',
    sequence,
    kind: 'snapshot',
    payload: { MaHoSo: key, TrangThaiHoSo: 1 },
  });

  it('every ledger migration goes down and up again cleanly, last to first', async () => {
    const ds = await open();
    try {
      const full = await tables();
      expect(full).toEqual([
        'commune_pause',
        'outbox',
        'outbox_status',
        'processed_event',
        'reconcile_finding',
        'reconcile_run',
        'sync_entity',
        'sync_entity_part',
        'target_pause',
      ]);
      // Down, one at a time, each leaving a schema the earlier migrations describe.
      for (let i = SYNC_LEDGER_MIGRATIONS.length; i > 0; i -= 1) await ds.undoLastMigration();
      expect(await tables()).toEqual([]);
      await ds.runMigrations();
      expect(await tables()).toEqual(full);
      // And it works after the round trip.
      const report = await new LedgerIngest('dossier-sync').ingest(ds.manager, [item('K1', 1)]);
      expect(report.accepted).toBe(1);
    } finally {
      await ds.destroy();
    }
  });

  it('undoing the outbox batch rows turns each batch row into one row per status, in order', async () => {
    const ds = await open();
    try {
      await ctx.sql.query('truncate sync_entity, sync_entity_part, processed_event, outbox');
      await new LedgerIngest('dossier-sync').ingest(ds.manager, [
        item('B1', 1),
        item('B2', 1),
        item('B3', 1),
      ]);
      expect(await ctx.sql.query('select statuses from outbox')).toEqual([{ statuses: 3 }]);
      const last = SYNC_LEDGER_MIGRATIONS[SYNC_LEDGER_MIGRATIONS.length - 1];
      expect(last?.name).toBe('SyncLedgerOutboxBatch1763800001600');
      await ds.undoLastMigration();
      const rows = await ctx.sql.query<{ message_key: string; key: string }>(
        `select message_key, payload->'entity'->>'key' as key from outbox order by id`,
      );
      expect(rows).toEqual(
        ['B1', 'B2', 'B3'].map((k) => ({ message_key: `dossier:${k}`, key: k })),
      );
      await ds.runMigrations();
    } finally {
      await ds.destroy();
    }
  });

  it('ledger figures are read at most once per refresh window, however often they are asked', async () => {
    const ds = await open();
    try {
      await ctx.sql.query('truncate sync_entity, sync_entity_part, processed_event, outbox');
      let queries = 0;
      const counting = {
        query: (...args: Parameters<DataSource['query']>) => ((queries += 1), ds.query(...args)),
      } as unknown as DataSource;
      const ingest = new LedgerIngest('dossier-sync');
      await ingest.ingest(ds.manager, [item('A', 1), item('B', 1)]);

      const windowed = new LedgerFiguresReader(counting, 60_000);
      const first = await windowed.read();
      expect(first.backlog).toEqual({
        PENDING: 2,
        RETRYING: 0,
        REJECTED: 0,
        AWAITING_RESULT: 0,
        SUPPLEMENT_REQUESTED: 0,
      });
      expect(first.oldestAwaitingSeconds).toBeNull();
      expect(first.outboxUnpublished).toBe(2);
      expect(first.oldestPendingSeconds).toEqual(expect.any(Number));
      await ingest.ingest(ds.manager, [item('C', 1)]);
      for (let i = 0; i < 20; i += 1) expect((await windowed.read()).backlog.PENDING).toBe(2);
      expect(queries).toBe(1);

      const fresh = new LedgerFiguresReader(counting, 0);
      expect((await fresh.read()).backlog.PENDING).toBe(3);
      expect(queries).toBe(2);
    } finally {
      await ds.destroy();
    }
  });
});
