import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { expectEventually, useTestContext } from '@lienthong/testing';
import { Dispatcher } from './dispatcher';
import { LedgerIngest } from './ledger-ingest';
import type { LedgerItem } from './ledger-ingest';
import { PushTarget } from './push-target.port';
import type { ClaimedEntity, InspectedEntity, Inspection, PushReceipt } from './push-target.port';
import {
  ReconcileRuns,
  ReconcileSchedule,
  ReconcileWorker,
  driftRateUpperBound,
} from './reconcile-runs';
import { Reconciler, driftFields } from './reconciler';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';

/** A portal in memory: what pushes wrote, which the test can alter or delete behind our back. */
class MemoryPortal extends PushTarget {
  readonly target = 'dvcqg' as const;
  readonly domain = 'dossier' as const;
  override readonly inspectBatch = 3;
  readonly held = new Map<string, Record<string, unknown>>();
  readonly steps = new Map<string, string[]>();
  readonly asked: string[][] = [];
  duringInspect: (() => Promise<void>) | undefined;

  push(entity: ClaimedEntity): Promise<PushReceipt> {
    this.held.set(entity.entityKey, { ...(entity.desired as Record<string, unknown>) });
    const steps = this.steps.get(entity.entityKey) ?? [];
    steps.push(...entity.parts.map((p) => p.partKey));
    this.steps.set(entity.entityKey, steps);
    return Promise.resolve({ pushedParts: entity.parts.map((p) => p.partKey) });
  }

  override async inspect(entities: InspectedEntity[]): Promise<Map<string, Inspection>> {
    this.asked.push(entities.map((e) => e.entityKey));
    await this.duringInspect?.();
    return new Map(
      entities.map((e) => {
        const held = this.held.get(e.entityKey);
        return [
          e.entityKey,
          held
            ? { kind: 'held', drift: driftFields(e.desired as Record<string, unknown>, held) }
            : { kind: 'missing' },
        ];
      }),
    );
  }

  blocked(): boolean {
    return false;
  }
}

describe('reconciliation: ledger vs portal (real PostgreSQL)', () => {
  const ctx = useTestContext('reconciler');
  const ingest = new LedgerIngest('dossier-sync');
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'reconciler-int-spec',
    });
    ctx.onCleanup(() => ds.destroy());
  });

  beforeEach(async () => {
    await ctx.sql.query(
      'truncate sync_entity, sync_entity_part, processed_event, outbox, reconcile_run cascade',
    );
  });

  const item = (key: string, sequence: number, extra: object = {}): LedgerItem => ({
    eventId: randomUUID(),
    source: '/communes/26740/mot-cua',
    domain: 'dossier',
    entityType: 'dossier',
    entityKey: key,
    communeCode: '26740',
    target: 'dvcqg',
    sequence,
    kind: 'snapshot',
    payload: { MaHoSo: key, TrangThaiHoSo: 2, NgayHenTra: '2025-07-10', ...extra },
  });
  const step = (key: string, sequence: number): LedgerItem => ({
    ...item(key, sequence),
    kind: 'part',
    partKey: `${key}-B${sequence}`,
    payload: { MaHoSo: key, NoiDungXuLy: `bước ${sequence}` },
  });
  const world = (portal: MemoryPortal) => ({
    dispatcher: new Dispatcher({
      dataSource: ds,
      pushTarget: portal,
      owner: 'w1',
      retry: {
        initialIntervalMs: 50,
        backoffCoefficient: 2,
        maximumIntervalMs: 200,
        maximumAttempts: 0,
      },
      leaseMs: 30_000,
      concurrency: 8,
      idleMs: 20,
    }),
    reconciler: new Reconciler(ds, portal),
  });
  const refs = (...keys: string[]) =>
    keys.map((entityKey) => ({ entityType: 'dossier' as const, entityKey }));
  const states = async () =>
    Object.fromEntries(
      (
        await ctx.sql.query<{ entity_key: string; state: string }>(
          'select entity_key, state from sync_entity order by entity_key',
        )
      ).map((r) => [r.entity_key, r.state]),
    );
  const published = async (state: string) =>
    ctx.sql.query<{ key: string; drift: unknown }>(
      `select payload->'entity'->>'key' as key, payload->'drift' as drift from outbox_status
       where payload->>'state' = $1 order by id, n`,
      [state],
    );

  it('classifies MATCH, MISSING and DRIFT (field names only); a dry run reports and changes nothing', async () => {
    const portal = new MemoryPortal();
    const { dispatcher, reconciler } = world(portal);
    await ingest.ingest(
      ds.manager,
      ['D1', 'D2', 'D3', 'D4'].map((k) => item(k, 1)),
    );
    await dispatcher.runOnce();
    portal.held.delete('D2');
    portal.held.set('D3', { ...portal.held.get('D3'), NgayHenTra: '2099-12-31', Them: 'x' });

    const results = await reconciler.check(refs('D1', 'D2', 'D3', 'D4'), {
      dryRun: true,
      runId: 'r1',
    });
    expect(Object.fromEntries(results)).toEqual({
      D1: { verdict: 'MATCH' },
      D2: { verdict: 'MISSING' },
      D3: {
        verdict: 'DRIFT',
        drift: [
          { field: 'NgayHenTra', kind: 'changed' },
          { field: 'Them', kind: 'unexpected-at-portal' },
        ],
      },
      D4: { verdict: 'MATCH' },
    });
    // Asked in batches of inspectBatch.
    expect(portal.asked.map((b) => b.length)).toEqual([3, 1]);
    expect((await published('DRIFT_DETECTED')).map((s) => s.key)).toEqual(['D2', 'D3']);
    // No value of the drifted field leaves the ledger.
    expect(JSON.stringify(await published('DRIFT_DETECTED'))).not.toContain('2099');
    expect(await states()).toEqual({ D1: 'SYNCED', D2: 'SYNCED', D3: 'SYNCED', D4: 'SYNCED' });
  });

  it('repairs through the dispatcher: the latest state and every part pushed again, REPAIRED published, then a MATCH', async () => {
    const portal = new MemoryPortal();
    const { dispatcher, reconciler } = world(portal);
    await ingest.ingest(ds.manager, [item('D1', 1), step('D1', 2), step('D1', 3), item('D2', 1)]);
    await dispatcher.runOnce();
    portal.held.delete('D1');
    portal.steps.delete('D1');
    portal.held.set('D2', { ...portal.held.get('D2'), TrangThaiHoSo: 9 });

    await reconciler.check(refs('D1', 'D2'), { dryRun: false, runId: 'r2' });
    expect(await states()).toEqual({ D1: 'PENDING', D2: 'PENDING' });
    await dispatcher.runOnce();
    expect(await states()).toEqual({ D1: 'SYNCED', D2: 'SYNCED' });
    expect(portal.held.get('D2')).toMatchObject({ TrangThaiHoSo: 2 });
    // The portal lost D1's steps too: they are sent again.
    expect(portal.steps.get('D1')).toEqual(['D1-B2', 'D1-B3']);
    const repaired = await published('REPAIRED');
    expect(repaired.sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual([
      { key: 'D1', drift: [{ field: '(entity)', kind: 'missing-at-portal' }] },
      { key: 'D2', drift: [{ field: 'TrangThaiHoSo', kind: 'changed' }] },
    ]);
    const again = await reconciler.check(refs('D1', 'D2'), { dryRun: false, runId: 'r2' });
    expect([...again.values()].map((r) => r.verdict)).toEqual(['MATCH', 'MATCH']);
  });

  it('an entity not settled, or changing while the portal is asked, is IN_FLUX, never drift', async () => {
    const portal = new MemoryPortal();
    const { dispatcher, reconciler } = world(portal);
    await ingest.ingest(ds.manager, [item('D1', 1), item('D2', 1)]);
    await dispatcher.runOnce();
    await ingest.ingest(ds.manager, [item('D3', 1)]); // never pushed: PENDING
    // D1 changes while the portal is being asked: the portal's (old) copy differs, but that is
    // the change in flight, not drift.
    portal.duringInspect = async () => {
      portal.duringInspect = undefined;
      await ingest.ingest(ds.manager, [item('D1', 2, { TrangThaiHoSo: 4 })]);
    };
    const results = await reconciler.check(refs('D1', 'D2', 'D3'), {
      dryRun: false,
      runId: 'r3',
    });
    expect(Object.fromEntries([...results].map(([k, r]) => [k, r.verdict]))).toEqual({
      D1: 'IN_FLUX',
      D2: 'MATCH',
      D3: 'IN_FLUX',
    });
    expect(portal.asked).toEqual([['D1', 'D2']]);
    expect(await published('DRIFT_DETECTED')).toEqual([]);
  });

  describe('runs', () => {
    const runs = (portal: MemoryPortal, owner = 'r1', pageSize = 3) =>
      new ReconcileRuns({
        dataSource: ds,
        reconciler: new Reconciler(ds, portal),
        pushTarget: portal,
        owner,
        leaseMs: 30_000,
        pageSize,
        verifyTimeoutMs: 60_000,
        idleMs: 10,
        open: { field: 'TrangThaiHoSo', terminal: ['3', '8', '10'] },
      });
    const keys10 = Array.from({ length: 10 }, (_, i) => `K${String(i).padStart(2, '0')}`);
    const setUp = async () => {
      const portal = new MemoryPortal();
      const { dispatcher } = world(portal);
      await ingest.ingest(
        ds.manager,
        keys10.map((k, i) => ({ ...item(k, 1), communeCode: i < 5 ? '26740' : '26743' })),
      );
      await dispatcher.runOnce();
      await dispatcher.runOnce();
      portal.held.delete('K03');
      portal.held.set('K07', { ...portal.held.get('K07'), NgayHenTra: '2099-12-31' });
      portal.asked.length = 0;
      return { portal, dispatcher };
    };
    /** Steps until the run finishes: a step whenever one is due (each run keeps to its rate). */
    const drive = async (r: ReconcileRuns, id: string, between?: () => Promise<unknown>) =>
      expectEventually(
        async () => {
          await r.step();
          await between?.();
          expect((await r.progress(id))?.status).toBe('finished');
        },
        { timeoutMs: 10_000, intervalMs: 5 },
      );

    it('walks its scope a page at a time, repairs through the dispatcher, verifies, and finishes with its counts', async () => {
      const { portal, dispatcher } = await setUp();
      const r = runs(portal);
      const id = await r.start({ scope: {}, dryRun: false, ratePerSecond: 100 });
      await drive(r, id, () => dispatcher.runOnce());
      expect(await r.progress(id)).toMatchObject({
        status: 'finished',
        total: 10,
        checked: 10,
        matched: 8,
        missing: 1,
        drifted: 1,
        inFlux: 0,
        repaired: 2,
        verified: 2,
        etaSeconds: 0,
      });
      expect(portal.held.get('K07')).toMatchObject({ NgayHenTra: '2025-07-10' });
      expect(portal.held.has('K03')).toBe(true);
      // Pages of three in key order, then the two findings verified.
      expect(portal.asked.slice(0, 4).flat()).toEqual(keys10);
      expect(portal.asked.slice(4).flat().sort()).toEqual(['K03', 'K07']);
    });

    it('a run whose worker died resumes from its checkpoint and checks nothing twice; a repeated command starts no second run', async () => {
      const { portal } = await setUp();
      const a = runs(portal, 'a');
      const id = await a.start({ commandId: 'cmd-1', scope: {}, dryRun: true, ratePerSecond: 100 });
      expect(
        await a.start({ commandId: 'cmd-1', scope: {}, dryRun: true, ratePerSecond: 100 }),
      ).toBe(id);
      await a.step();
      await a.step();
      // Worker a is killed in the middle of its third step: the lease it holds expires.
      await ctx.sql.query(
        `update reconcile_run set lease_owner = 'a', lease_until = now() - interval '1 second'`,
      );
      const b = runs(portal, 'b');
      await drive(b, id);
      const asked = portal.asked.flat();
      expect(asked).toEqual(keys10);
      expect(await b.progress(id)).toMatchObject({
        status: 'finished',
        checked: 10,
        missing: 1,
        drifted: 1,
        repaired: 0,
      });
      // A dry run changed nothing in the ledger.
      expect(
        await ctx.sql.query(`select count(*)::int n from sync_entity where state <> 'SYNCED'`),
      ).toEqual([{ n: 0 }]);
    });

    it('keeps to its scope; a sample run checks its sample only, and the drift rate gets its bound', async () => {
      const { portal } = await setUp();
      const r = runs(portal);
      const scoped = await r.start({
        scope: { communeCodes: ['26743'] },
        dryRun: true,
        ratePerSecond: 100,
      });
      await drive(r, scoped);
      expect(portal.asked.flat()).toEqual(keys10.slice(5));
      portal.asked.length = 0;
      const sample = await r.start({ scope: {}, dryRun: true, ratePerSecond: 100, sampleSize: 4 });
      await drive(r, sample);
      expect(portal.asked.flat()).toHaveLength(4);
      expect(await r.progress(sample)).toMatchObject({ total: 4, checked: 4 });
      expect(driftRateUpperBound(0, 3000)).toBeCloseTo(0.000998, 5);
    });

    it('the worker keeps a run to its rate, and reports its progress and its end', async () => {
      const { portal } = await setUp();
      const r = runs(portal, 'w', 2);
      await r.start({ scope: {}, dryRun: true, ratePerSecond: 20 });
      const reports: Array<{ checked: number; finished: boolean }> = [];
      const worker = new ReconcileWorker(r, {
        idleMs: 20,
        budgetPerSecond: 1000,
        pushTarget: portal,
        progressEveryMs: 0,
        onProgress: (p, finished) => reports.push({ checked: p.checked, finished }),
        onError: (err) => {
          throw err;
        },
      });
      const startedAt = Date.now();
      worker.start();
      await expectEventually(() => expect(reports.at(-1)?.finished).toBe(true), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      const elapsed = Date.now() - startedAt;
      await worker.stop();
      // Ten lookups at 20 per second: at least 450 ms (the last page's wait comes after it).
      expect(elapsed).toBeGreaterThanOrEqual(400);
      expect(reports.filter((p) => p.finished)).toEqual([{ checked: 10, finished: true }]);
      expect(
        reports.map((p) => p.checked).filter((c, i, all) => i > 0 && c < (all[i - 1] ?? 0)),
      ).toEqual([]);
      expect(portal.asked.flat()).toEqual(keys10);
    });

    it('all runs together keep to the budget, each run to its own rate; a run waiting for its repairs does not hold up the next', async () => {
      const { portal } = await setUp();
      const r = runs(portal, 'w', 2);
      // A repair run whose repairs cannot land (no dispatcher runs): it waits in verification.
      const waiting = await r.start({
        scope: { keys: ['K03'] },
        dryRun: false,
        ratePerSecond: 500,
      });
      const other = { communeCodes: ['26743'] }; // K05–K09
      const a = await r.start({ scope: other, dryRun: true, ratePerSecond: 500 });
      const b = await r.start({ scope: other, dryRun: true, ratePerSecond: 500 });
      const done = new Set<string>();
      const worker = new ReconcileWorker(r, {
        idleMs: 20,
        budgetPerSecond: 10,
        pushTarget: portal,
        progressEveryMs: 60_000,
        onProgress: (p, finished) => {
          if (finished) done.add(p.id);
        },
        onError: (err) => {
          throw err;
        },
      });
      const startedAt = Date.now();
      worker.start();
      await expectEventually(() => expect([...done].sort()).toEqual([a, b].sort()), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      const elapsed = Date.now() - startedAt;
      await worker.stop();
      // 11 lookups (1 + 5 + 5) at 10 per second for all runs: at least 0.9 s before the last page
      // (of at most two), where each run alone at 500 per second would take 20 ms.
      expect(portal.asked.flat()).toHaveLength(11);
      expect(elapsed).toBeGreaterThanOrEqual(850);
      expect((await r.progress(waiting))?.status).toBe('verifying');
    });

    it('scheduled tiers: each period starts its run once across instances and restarts; recent, open, and a rotating sweep slice that covers everything once', async () => {
      const { portal } = await setUp();
      // Two dossiers are final (result returned, stopped): the open tier leaves them out. Five
      // have not changed for an hour: the recent tier leaves them out.
      await ctx.sql.query(
        `update sync_entity set desired = desired || '{"TrangThaiHoSo": 10}' where entity_key = 'K01'`,
      );
      await ctx.sql.query(
        `update sync_entity set desired = desired || '{"TrangThaiHoSo": 8}' where entity_key = 'K02'`,
      );
      await ctx.sql.query(
        `update sync_entity set updated_at = now() - interval '1 hour' where entity_key >= 'K05'`,
      );
      const r = runs(portal, 's', 50);
      const tiers = {
        recentEveryMs: 60_000,
        openEveryMs: 86_400_000,
        sweepPeriodMs: 3 * 3_600_000,
        sweepSlices: 3,
        dryRun: true,
        ratePerSecond: 1000,
      };
      let now = Date.now();
      const schedule = (only?: 'sweep') =>
        new ReconcileSchedule(r, only ? { ...tiers, recentEveryMs: 0 } : tiers, {
          hasOpen: !only,
          everyMs: 0,
          now: () => now,
        });
      const first = schedule();
      expect(await first.startDue()).toHaveLength(3);
      // The same period again, from this instance and from another (or after a restart): nothing.
      expect(await first.startDue()).toEqual([]);
      expect(await schedule().startDue()).toEqual([]);
      const run = async (tier: string, period: number) =>
        (
          await ctx.sql.query<{ id: string; scope: unknown; total: number }>(
            'select id, scope, total from reconcile_run where command_id = $1',
            [`schedule:${tier}:${period}`],
          )
        )[0];
      const recent = await run('recent', Math.floor(now / 60_000));
      expect(recent?.scope).toEqual({
        from: new Date((Math.floor(now / 60_000) - 1) * 60_000).toISOString(),
      });
      expect(recent?.total).toBe(5);
      expect((await run('open', Math.floor(now / 86_400_000)))?.total).toBe(8);

      // The sweep: one slice an hour; three hours cover every dossier exactly once.
      const sweeps: string[] = [];
      for (let hour = 0; hour < 3; hour += 1) {
        if (hour > 0) {
          now += 3_600_000;
          expect(await schedule('sweep').startDue()).toHaveLength(1);
        }
        sweeps.push((await run('sweep', Math.floor(now / 3_600_000)))?.id ?? 'none');
      }
      // Every run walks exactly what it counted: recent 5, open 8, the sweep's slices 10 in all.
      const all = await ctx.sql.query<{ id: string }>('select id from reconcile_run');
      for (const { id } of all) await drive(r, id);
      const finished = await ctx.sql.query<{ tier: string; total: number; checked: number }>(
        'select tier, total, checked from reconcile_run',
      );
      expect(finished.filter((f) => f.checked !== f.total)).toEqual([]);
      expect(finished.filter((f) => f.tier === 'sweep').reduce((n, f) => n + f.total, 0)).toBe(10);
      expect(portal.asked.flat()).toHaveLength(5 + 8 + 10);
      const swept = portal.asked.flat().filter((k, i, all) => all.indexOf(k) === i);
      expect(swept.sort()).toEqual(keys10);
      expect(sweeps).not.toContain('none');
    });
  });
});
