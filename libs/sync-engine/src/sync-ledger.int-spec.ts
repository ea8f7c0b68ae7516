import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { useTestContext } from '@lienthong/testing';
import { LEDGER_FIGURES_SQL, LedgerFiguresReader } from './ledger-figures';
import { LedgerIngest } from './ledger-ingest';
import type { LedgerItem } from './ledger-ingest';
import { SYNC_LEDGER_MIGRATIONS, UNDESCRIBED_COLUMNS } from './sync-ledger.migration';

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
      // Down to just before the batch rows (the migrations after it only add indexes).
      const batch = SYNC_LEDGER_MIGRATIONS.findIndex(
        (m) => m.name === 'SyncLedgerOutboxBatch1763800001600',
      );
      expect(batch).toBeGreaterThan(0);
      for (let i = SYNC_LEDGER_MIGRATIONS.length; i > batch; i -= 1) await ds.undoLastMigration();
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

  it('an analysis describes the columns statements filter on and skips the wide ones nothing reads that way', async () => {
    const ds = await open();
    try {
      await ctx.sql.query('truncate sync_entity_part, processed_event, outbox');
      await ctx.sql.query(
        `insert into sync_entity_part (entity_type, entity_key, part_key, source_sequence, payload)
         select 'dossier', 'K' || n, 'P' || n, 1, jsonb_build_object('MaHoSo', 'K' || n, 'NoiDung', repeat('x', 300))
           from generate_series(1, 2000) n`,
      );
      await ctx.sql.query(
        `insert into processed_event (source, event_id, fingerprint)
         select '/communes/26734/test', 'E' || n, md5(n::text) || md5(n::text) from generate_series(1, 2000) n`,
      );
      await ctx.sql.query(
        `insert into outbox (topic, message_key, payload) select 'sync.status.v2', 'dossier:K' || n, '[{}]'::jsonb from generate_series(1, 2000) n`,
      );
      await ctx.sql.query('analyze sync_entity_part, processed_event, outbox');
      const described = (
        await ctx.sql.query<{ described: string }>(
          `select tablename || '.' || attname described from pg_stats where schemaname = $1 and tablename in ('sync_entity_part', 'processed_event', 'outbox')`,
          [ctx.schema],
        )
      ).map((r) => r.described);
      // The keys' statistics are what the planner uses for ingest's joins and the figures' predicates.
      expect(described).toEqual(
        expect.arrayContaining([
          'sync_entity_part.entity_key',
          'sync_entity_part.part_key',
          'sync_entity_part.pushed_at',
          'processed_event.event_id',
          'processed_event.processed_at',
          'outbox.published_at',
        ]),
      );
      for (const [table, column] of UNDESCRIBED_COLUMNS)
        expect(described).not.toContain(`${table}.${column}`);
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

  it('the ledger figures read no table whole on a grown ledger: their cost follows the backlog', async () => {
    interface PlanNode {
      'Node Type': string;
      'Relation Name'?: string;
      Plans?: PlanNode[];
    }
    const seqScans = (node: PlanNode): string[] => [
      ...(node['Node Type'] === 'Seq Scan' ? [node['Relation Name'] ?? '?'] : []),
      ...(node.Plans ?? []).flatMap(seqScans),
    ];
    const ds = await open();
    try {
      await ctx.sql.query('truncate sync_entity, sync_entity_part, processed_event, outbox');
      // A ledger that has run a while: most entities synced, their parts pushed once, their
      // statuses published; a small backlog of each kind the figures count.
      const rows = 20_000;
      await ctx.sql.query(
        `insert into sync_entity (entity_type, entity_key, commune_code, target, source_sequence, desired,
                                  desired_fingerprint, state, pending_since, awaiting_since)
         select 'dossier', 'K' || n, '26734', 'dvcqg', 1, '{}'::jsonb, md5(n::text) || md5(n::text),
                s, now(),
                case when s = 'AWAITING_RESULT' then now() end
           from generate_series(1, $1) n,
                lateral (select case when n % 1000 = 1 then 'PENDING' when n % 1000 = 2 then 'RETRYING'
                                     when n % 1000 = 3 then 'AWAITING_RESULT' when n % 1000 = 4 then 'REJECTED'
                                     else 'SYNCED' end as s) st`,
        [rows],
      );
      await ctx.sql.query(
        `insert into sync_entity_part (entity_type, entity_key, part_key, source_sequence, payload, pushed_at, sends)
         select 'dossier', 'K' || n, 'P1', 1, '{}'::jsonb, now(), case when n % 1000 = 5 then 2 else 1 end
           from generate_series(1, $1) n`,
        [rows],
      );
      await ctx.sql.query(
        `insert into outbox (topic, message_key, payload, published_at, failed_reason)
         select 'sync.status.v1', 'dossier:K' || n, '{}'::jsonb,
                case when n % 1000 > 1 then now() end, case when n % 1000 = 1 then 'too large' end
           from generate_series(1, $1) n`,
        [rows],
      );
      await ctx.sql.query('analyze sync_entity, sync_entity_part, outbox');

      const [explained] = await ctx.sql.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        `explain (format json) ${LEDGER_FIGURES_SQL}`,
      );
      const top = explained?.['QUERY PLAN'][0]?.Plan;
      if (!top) throw new Error('no plan for the ledger figures');
      expect(seqScans(top)).toEqual([]);

      // And what it reads is right on that ledger.
      const figures = await new LedgerFiguresReader(ds, 0).read();
      expect(figures.backlog).toEqual({
        PENDING: 20,
        RETRYING: 20,
        REJECTED: 20,
        AWAITING_RESULT: 20,
        SUPPLEMENT_REQUESTED: 0,
      });
      expect(figures.outboxFailed).toBe(20);
      expect(figures.outboxUnpublished).toBe(20);
      expect(figures.partsPossiblyDuplicated).toBe(20);
    } finally {
      await ds.destroy();
    }
  });
});
