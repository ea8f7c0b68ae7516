import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { Rng, dossierLifecycle, useTestContext } from '@lienthong/testing';
import type { DossierLifecycle } from '@lienthong/testing';
import { LedgerIngest, eventKey } from './ledger-ingest';
import type { LedgerItem, SqlExecutor } from './ledger-ingest';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';

function itemsOf(life: DossierLifecycle): LedgerItem[] {
  return life.events.map((e) => ({
    eventId: randomUUID(),
    domain: 'dossier',
    entityType: 'dossier',
    entityKey: life.code,
    communeCode: life.commune.code,
    source: `/communes/${life.commune.code}/test`,
    target: 'dvcqg',
    sequence: e.sequence,
    kind: e.kind === 'upsert' ? 'snapshot' : 'part',
    ...(e.kind === 'step' ? { partKey: e.data.MaBuocXuLy } : {}),
    payload: e.data,
  }));
}

/** Counts statements: ingest must not issue one query per event. */
function counting(db: SqlExecutor): SqlExecutor & { statements: number } {
  const wrapper = {
    statements: 0,
    query<T>(sql: string, params?: unknown[]): Promise<T> {
      wrapper.statements += 1;
      return db.query<T>(sql, params);
    },
  };
  return wrapper;
}

const lastSnapshotSequence = (life: DossierLifecycle) =>
  Math.max(...life.events.filter((e) => e.kind === 'upsert').map((e) => e.sequence));

describe('ledger ingest on real PostgreSQL', () => {
  const ctx = useTestContext('ledger-ingest');
  const ingest = new LedgerIngest('dossier-sync');
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'ledger-int-spec',
    });
    ctx.onCleanup(() => ds.destroy());
  });

  const entity = async (key: string) =>
    (
      await ctx.sql.query<{
        source_sequence: string;
        state: string;
        desired: { TrangThaiHoSo: number };
      }>('select source_sequence, state, desired from sync_entity where entity_key = $1', [key])
    )[0];
  const partCount = async (key: string) =>
    (await ctx.sql.query('select 1 from sync_entity_part where entity_key = $1', [key])).length;
  const outbox = async (key: string) =>
    (
      await ctx.sql.query<{ state: string }>(
        `select payload->>'state' state from outbox_status where message_key = $1 order by id, n`,
        [`dossier:${key}`],
      )
    ).map((r) => r.state);

  it('coalesces a batch: the latest snapshot per dossier, every step once, a status per event, in at most 5 statements', async () => {
    const lives = Array.from({ length: 80 }, (_, i) =>
      dossierLifecycle(new Rng(100 + i), { number: i + 1 }),
    );
    const items = lives.flatMap(itemsOf);
    const snapshots = items.filter((i) => i.kind === 'snapshot').length;
    const db = counting(ds.manager);
    const report = await ingest.ingest(db, items);

    // Owners, dedupe rows, entities, parts, outbox: new dossiers' rows are written once (their
    // steps need no second update of the row the snapshot inserted).
    expect(db.statements).toBeLessThanOrEqual(5);
    expect(report).toMatchObject({
      accepted: items.length - snapshots + lives.length,
      superseded: snapshots - lives.length,
      duplicate: 0,
    });
    for (const life of lives) {
      expect(await entity(life.code)).toMatchObject({
        source_sequence: String(lastSnapshotSequence(life)),
        state: 'PENDING',
        desired: { TrangThaiHoSo: life.final.TrangThaiHoSo },
      });
      expect(await partCount(life.code)).toBe(life.steps.length);
      expect((await outbox(life.code)).length).toBe(life.events.length);
    }
  });

  it('one event at a time, in order: every event accepted', async () => {
    const life = dossierLifecycle(new Rng(31), { supplement: true });
    for (const item of itemsOf(life))
      expect((await ingest.ingest(ds.manager, [item])).outcomes.get(eventKey(item))).toBe(
        'accepted',
      );
    expect(await outbox(life.code)).toEqual(life.events.map(() => 'ACCEPTED'));
    expect(await entity(life.code)).toMatchObject({ desired: { TrangThaiHoSo: 10 } });
  });

  it('every event twice and shuffled: duplicates change nothing, older snapshots are superseded, the latest wins', async () => {
    const life = dossierLifecycle(new Rng(32), { supplement: true });
    const items = itemsOf(life);
    const rng = new Rng(5);
    const shuffled = [...items, ...items]
      .map((i) => ({ i, r: rng.next() }))
      .sort((a, b) => a.r - b.r)
      .map((x) => x.i);
    const outcomes: string[] = [];
    for (const item of shuffled)
      outcomes.push(
        (await ingest.ingest(ds.manager, [item])).outcomes.get(eventKey(item)) as string,
      );

    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(items.length);
    // Counted per item, repeats inside one batch included (metrics read this report).
    const first = items[0] as LedgerItem;
    expect((await ingest.ingest(ds.manager, [first, first])).duplicate).toBe(2);
    expect(await entity(life.code)).toMatchObject({
      source_sequence: String(lastSnapshotSequence(life)),
      desired: { TrangThaiHoSo: 10 },
    });
    expect(await partCount(life.code)).toBe(life.steps.length);
    // One status per distinct event, in arrival order: a snapshot older than one already
    // ingested is SUPERSEDED, everything else ACCEPTED (duplicates publish nothing).
    const seen = new Set<string>();
    let newest = 0;
    const expected: string[] = [];
    for (const item of shuffled) {
      if (seen.has(eventKey(item))) continue;
      seen.add(eventKey(item));
      if (item.kind === 'snapshot' && item.sequence < newest) expected.push('SUPERSEDED');
      else expected.push('ACCEPTED');
      if (item.kind === 'snapshot') newest = Math.max(newest, item.sequence);
    }
    expect(await outbox(life.code)).toEqual(expected);
  });

  it('the same step under a new event id is a duplicate; a synced dossier only gets work for a real change', async () => {
    const life = dossierLifecycle(new Rng(33), { endAt: 4 });
    const items = itemsOf(life);
    await ingest.ingest(ds.manager, items);
    await ctx.sql.query(
      `update sync_entity set state = 'SYNCED', synced_fingerprint = desired_fingerprint where entity_key = $1`,
      [life.code],
    );
    await ctx.sql.query(`update sync_entity_part set pushed_at = now() where entity_key = $1`, [
      life.code,
    ]);

    const step = items.find((i) => i.kind === 'part') as LedgerItem;
    const again = { ...step, eventId: randomUUID() };
    expect((await ingest.ingest(ds.manager, [again])).outcomes.get(eventKey(again))).toBe(
      'duplicate',
    );
    expect(await entity(life.code)).toMatchObject({ state: 'SYNCED' });

    const last = items.filter((i) => i.kind === 'snapshot').at(-1) as LedgerItem;
    await ingest.ingest(ds.manager, [{ ...last, eventId: randomUUID(), sequence: 100 }]);
    expect(await entity(life.code)).toMatchObject({ state: 'SYNCED', source_sequence: '100' });

    await ingest.ingest(ds.manager, [
      {
        ...last,
        eventId: randomUUID(),
        sequence: 101,
        payload: { ...(last.payload as object), TrangThaiHoSo: 9 },
      },
    ]);
    expect(await entity(life.code)).toMatchObject({ state: 'PENDING', source_sequence: '101' });
  });
  it('forgets processed event ids past the retention period, and only those', async () => {
    await ctx.sql.query(
      `insert into processed_event (event_id, processed_at) values
         ('old-1', now() - interval '31 days'), ('old-2', now() - interval '40 days'), ('recent', now() - interval '29 days')`,
    );
    expect(await ingest.purgeProcessedEvents(ds.manager, 30)).toBe(2);
    const left = await ctx.sql.query<{ event_id: string }>(
      `select event_id from processed_event where event_id in ('old-1', 'old-2', 'recent')`,
    );
    expect(left.map((r) => r.event_id)).toEqual(['recent']);
  });

  it('dedupes by CloudEvents source + id: two communes numbering their events 1, 2, 3 lose nothing', async () => {
    const a = dossierLifecycle(new Rng(51), { number: 1, endAt: 2 });
    const b = dossierLifecycle(new Rng(52), { number: 2, endAt: 2 });
    const numbered = (life: DossierLifecycle, source: string) =>
      itemsOf(life).map((item, i) => ({ ...item, source, eventId: String(i + 1) }));
    const items = [
      ...numbered(a, '/communes/00001/one-stop'),
      ...numbered(b, '/communes/00002/one-stop'),
    ];
    const report = await ingest.ingest(ds.manager, items);
    expect(report).toMatchObject({ duplicate: 0, refused: 0 });
    expect(report.accepted + report.superseded).toBe(items.length);
    expect(await entity(a.code)).toMatchObject({
      source_sequence: String(lastSnapshotSequence(a)),
    });
    expect(await entity(b.code)).toMatchObject({
      source_sequence: String(lastSnapshotSequence(b)),
    });
    expect(await partCount(a.code)).toBe(a.steps.length);
    expect(await partCount(b.code)).toBe(b.steps.length);
  });

  it('the same source + id with a different payload is a conflict, refused (not a silent duplicate), and not remembered', async () => {
    const life = dossierLifecycle(new Rng(53), { endAt: 2 });
    const [header] = itemsOf(life);
    const original = { ...(header as LedgerItem), eventId: 'evt-1' };
    expect((await ingest.ingest(ds.manager, [original])).accepted).toBe(1);
    const changed = {
      ...original,
      sequence: original.sequence + 1,
      payload: { ...(original.payload as object), TrichYeuHoSo: 'something else' },
    };
    const report = await ingest.ingest(ds.manager, [changed]);
    expect(report.refused).toBe(1);
    expect(report.refusals.get(0)).toMatchObject({ code: 'EVENT_ID_CONFLICT', field: 'ce_id' });
    expect(await entity(life.code)).toMatchObject({ source_sequence: String(original.sequence) });
    // Inside one batch too: the first copy applies, the different second copy is refused.
    const other = { ...original, eventId: 'evt-2', sequence: original.sequence + 5 };
    const twice = await ingest.ingest(ds.manager, [other, { ...other, payload: changed.payload }]);
    expect(twice).toMatchObject({ accepted: 1, refused: 1 });
    expect(twice.refusals.get(1)?.code).toBe('EVENT_ID_CONFLICT');
  });

  it('an event for an existing entity from another commune is refused with its own code; the entity keeps its owner', async () => {
    const life = dossierLifecycle(new Rng(54), { supplement: true });
    const items = itemsOf(life);
    await ingest.ingest(ds.manager, items.slice(0, 2));
    const foreign = items.slice(2).map((i) => ({ ...i, communeCode: '99999' }));
    const report = await ingest.ingest(ds.manager, foreign);
    expect(report.refused).toBe(foreign.length);
    expect([...report.refusals.values()].map((r) => r.code)).toEqual(
      foreign.map(() => 'COMMUNE_MISMATCH'),
    );
    const [row] = await ctx.sql.query<{ commune_code: string }>(
      'select commune_code from sync_entity where entity_key = $1',
      [life.code],
    );
    expect(row?.commune_code).toBe(life.commune.code);
    // Refused events are not remembered: once fixed, the same ids apply.
    const fixed = await ingest.ingest(ds.manager, items.slice(2));
    expect(fixed.refused).toBe(0);
    expect(fixed.accepted).toBeGreaterThan(0);
  });

  it('a reference names one entity of its target: a second entity bringing it is refused (REFERENCE_CONFLICT), in the ledger and within a batch; moving on frees it', async () => {
    // The first snapshot of a lifecycle, as an entity known by a receipt number (like land's SoBienNhan).
    const snapshot = (seed: number, receipt: string, sequence = 1): LedgerItem => {
      const [first] = itemsOf(dossierLifecycle(new Rng(seed), { endAt: 2 }));
      return {
        ...(first as LedgerItem),
        sequence,
        reference: { field: 'SoBienNhan', value: receipt },
      };
    };
    const a = snapshot(61, 'BN-1');
    expect((await ingest.ingest(ds.manager, [a])).accepted).toBe(1);
    const b = snapshot(62, 'BN-1');
    const refused = await ingest.ingest(ds.manager, [b]);
    expect(refused).toMatchObject({ accepted: 0, refused: 1 });
    expect(refused.refusals.get(0)).toMatchObject({
      code: 'REFERENCE_CONFLICT',
      field: 'SoBienNhan',
      rule: 'unique-reference',
    });
    expect(refused.refusals.get(0)?.message).toContain(a.entityKey);
    expect(await entity(b.entityKey)).toBeUndefined();
    // Not remembered: the same event with its own receipt number applies.
    const fixed = { ...b, reference: { field: 'SoBienNhan', value: 'BN-2' } };
    expect((await ingest.ingest(ds.manager, [fixed])).accepted).toBe(1);

    // Within one batch: the first entity takes it, the second is refused; the first's own later
    // snapshot keeps it.
    const c = snapshot(63, 'BN-3');
    const d = snapshot(64, 'BN-3');
    const again = { ...c, eventId: randomUUID(), sequence: 2 };
    const batch = await ingest.ingest(ds.manager, [c, d, again]);
    expect(batch).toMatchObject({ accepted: 1, superseded: 1, refused: 1 });
    expect(batch.refusals.get(1)?.code).toBe('REFERENCE_CONFLICT');

    // An entity that moves to another receipt number frees its old one.
    const moved = {
      ...a,
      eventId: randomUUID(),
      sequence: 2,
      reference: { field: 'SoBienNhan', value: 'BN-9' },
    };
    expect((await ingest.ingest(ds.manager, [moved])).accepted).toBe(1);
    expect((await ingest.ingest(ds.manager, [snapshot(65, 'BN-1')])).accepted).toBe(1);
    const held = await ctx.sql.query<{ entity_key: string; reference: string }>(
      `select entity_key, reference from sync_entity where reference like 'BN-%' order by reference`,
    );
    expect(held.map((r) => r.reference)).toEqual(['BN-1', 'BN-2', 'BN-3', 'BN-9']);
    expect(held.find((r) => r.reference === 'BN-9')?.entity_key).toBe(a.entityKey);
  });

  describe('inside a transaction: plain inserts first, the careful way once something was seen before', () => {
    /** The SQL texts a transaction's manager ran (to see which way a batch went). */
    function recording(tx: EntityManager): SqlExecutor & { texts: string[] } {
      const wrapper = {
        texts: [] as string[],
        // What ingest reads to know it runs inside a transaction.
        queryRunner: tx.queryRunner,
        query<T>(sql: string, params?: unknown[]): Promise<T> {
          wrapper.texts.push(String(sql));
          return tx.query<T>(sql, params);
        },
      };
      return wrapper;
    }
    const inTx = <T>(work: (db: SqlExecutor & { texts: string[] }) => Promise<T>) =>
      ds.transaction((tx) => work(recording(tx)));
    const wentPlain = (db: { texts: string[] }) =>
      db.texts.includes('savepoint lienthong_ledger_new') &&
      !db.texts.includes('rollback to savepoint lienthong_ledger_new');
    const rolledBack = (db: { texts: string[] }) =>
      db.texts.includes('rollback to savepoint lienthong_ledger_new');

    it('new events go the plain way; the same batch again rolls back and finds every duplicate, and the ledger holds each event once', async () => {
      const lives = Array.from({ length: 6 }, (_, i) =>
        dossierLifecycle(new Rng(700 + i), { number: 700 + i }),
      );
      const items = lives.flatMap(itemsOf);
      expect(items.length).toBeGreaterThanOrEqual(16);

      const first = await inTx(async (db) => {
        const report = await new LedgerIngest('dossier-sync').ingest(db, items);
        expect(wentPlain(db)).toBe(true);
        return report;
      });
      expect(first.accepted + first.superseded).toBe(items.length);
      expect(first.duplicate).toBe(0);

      // A redelivery of the whole batch, to a fresh instance (as after a restart).
      const again = await inTx(async (db) => {
        const report = await new LedgerIngest('dossier-sync').ingest(db, items);
        expect(rolledBack(db)).toBe(true);
        return report;
      });
      expect(again).toMatchObject({ accepted: 0, superseded: 0, duplicate: items.length });
      for (const life of lives) {
        expect(await partCount(life.code)).toBe(life.steps.length);
        expect((await outbox(life.code)).length).toBe(life.events.length);
        expect(await entity(life.code)).toMatchObject({
          source_sequence: String(lastSnapshotSequence(life)),
        });
      }
    });

    it('a batch mixing new events, seen ones, a step under a new id and an id reused for another payload: each gets its own outcome', async () => {
      const seen = Array.from({ length: 3 }, (_, i) =>
        dossierLifecycle(new Rng(720 + i), { number: 720 + i }),
      );
      const seenItems = seen.flatMap(itemsOf);
      await inTx((db) => new LedgerIngest('dossier-sync').ingest(db, seenItems));

      const fresh = Array.from({ length: 3 }, (_, i) =>
        dossierLifecycle(new Rng(730 + i), { number: 730 + i }),
      ).flatMap(itemsOf);
      const step = seenItems.find((i) => i.kind === 'part') as LedgerItem;
      const stepAgain = { ...step, eventId: randomUUID() };
      const snapshot = seenItems.find((i) => i.kind === 'snapshot') as LedgerItem;
      const reused = {
        ...snapshot,
        payload: { ...(snapshot.payload as object), TrangThaiHoSo: 7 },
      };
      const repeated = seenItems.slice(-5);
      const batch = [...fresh, stepAgain, reused, ...repeated];

      const ingestor = new LedgerIngest('dossier-sync');
      const report = await inTx(async (db) => {
        const r = await ingestor.ingest(db, batch);
        expect(rolledBack(db)).toBe(true);
        return r;
      });
      expect(report.accepted + report.superseded).toBe(fresh.length);
      expect(report.outcomes.get(eventKey(stepAgain))).toBe('duplicate');
      for (const item of repeated) expect(report.outcomes.get(eventKey(item))).toBe('duplicate');
      expect(report.refusals.get(fresh.length + 1)?.code).toBe('EVENT_ID_CONFLICT');

      // Duplicates come in runs: the same instance's next batches go the careful way at once.
      const next = Array.from({ length: 3 }, (_, i) =>
        dossierLifecycle(new Rng(740 + i), { number: 740 + i }),
      ).flatMap(itemsOf);
      await inTx(async (db) => {
        const r = await ingestor.ingest(db, next);
        expect(db.texts).not.toContain('savepoint lienthong_ledger_new');
        expect(r.accepted + r.superseded).toBe(next.length);
      });
    });
  });
});
