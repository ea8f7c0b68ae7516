import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { PortalCallError } from '@lienthong/resilience';
import { Rng, dossierLifecycle, expectEventually, useTestContext } from '@lienthong/testing';
import type { DossierLifecycle } from '@lienthong/testing';
import { Dispatcher } from './dispatcher';
import type { DispatcherOptions } from './dispatcher';
import { LedgerIngest } from './ledger-ingest';
import type { LedgerItem } from './ledger-ingest';
import { PushFailure, PushTarget } from './push-target.port';
import type { ClaimedEntity, PushReceipt } from './push-target.port';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';

type Behaviour = (entity: ClaimedEntity) => Promise<PushReceipt>;

/** The port, scripted: records every push and answers as the test says (the portal is tested elsewhere). */
class ScriptedTarget extends PushTarget {
  readonly target = 'dvcqg' as const;
  readonly domain = 'dossier' as const;
  readonly pushes: Array<{
    key: string;
    sequence: number;
    parts: string[];
    uncertain: boolean;
    at: number;
  }> = [];
  inFlight = new Set<string>();
  overlaps = 0;
  open = false;
  behaviour: Behaviour = (e) => Promise.resolve({ pushedParts: e.parts.map((p) => p.partKey) });

  async push(entity: ClaimedEntity): Promise<PushReceipt> {
    if (this.inFlight.has(entity.entityKey)) this.overlaps += 1;
    this.inFlight.add(entity.entityKey);
    try {
      this.pushes.push({
        key: entity.entityKey,
        sequence: entity.sourceSequence,
        parts: entity.parts.map((p) => p.partKey),
        uncertain: entity.uncertain,
        at: Date.now(),
      });
      await sleep(5);
      return await this.behaviour(entity);
    } finally {
      this.inFlight.delete(entity.entityKey);
    }
  }

  breakerOpen(): boolean {
    return this.open;
  }
}

function itemsOf(life: DossierLifecycle): LedgerItem[] {
  return life.events.map((e) => ({
    eventId: randomUUID(),
    domain: 'dossier',
    entityType: 'dossier',
    entityKey: life.code,
    communeCode: life.commune.code,
    target: 'dvcqg',
    sequence: e.sequence,
    kind: e.kind === 'upsert' ? 'snapshot' : 'part',
    ...(e.kind === 'step' ? { partKey: e.data.MaBuocXuLy } : {}),
    payload: e.data,
  }));
}

describe('dispatcher on real PostgreSQL', () => {
  const ctx = useTestContext('dispatcher');
  const ingest = new LedgerIngest('dossier-sync');
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'dispatcher-int-spec',
      poolSize: 20,
    });
    ctx.onCleanup(() => ds.destroy());
  });

  beforeEach(async () => {
    await ctx.sql.query('truncate sync_entity, sync_entity_part, processed_event, outbox');
  });

  const dispatcher = (target: PushTarget, overrides: Partial<DispatcherOptions> = {}) =>
    new Dispatcher({
      dataSource: ds,
      pushTarget: target,
      owner: `w-${randomUUID().slice(0, 8)}`,
      retry: {
        initialIntervalMs: 50,
        backoffCoefficient: 2,
        maximumIntervalMs: 200,
        maximumAttempts: 0,
      },
      leaseMs: 30_000,
      concurrency: 8,
      idleMs: 20,
      ...overrides,
    });
  const states = async () =>
    Object.fromEntries(
      (
        await ctx.sql.query<{ state: string; n: string }>(
          'select state, count(*) n from sync_entity group by state',
        )
      ).map((r) => [r.state, Number(r.n)]),
    );
  const statusCount = async (state: string) =>
    Number(
      (
        await ctx.sql.query<{ n: string }>(
          `select count(*) n from outbox where payload->>'state' = $1`,
          [state],
        )
      )[0]?.n,
    );

  it('two dispatchers share the work: every dossier synced, never two pushes of one dossier at once, each step pushed once', async () => {
    const lives = Array.from({ length: 200 }, (_, i) =>
      dossierLifecycle(new Rng(300 + i), { number: i + 1 }),
    );
    await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
    const target = new ScriptedTarget();
    const a = dispatcher(target);
    const b = dispatcher(target);
    a.start();
    b.start();
    await expectEventually(async () => expect(await states()).toEqual({ SYNCED: lives.length }), {
      timeoutMs: 60_000,
    });
    await Promise.all([a.stop(), b.stop()]);
    expect(target.overlaps).toBe(0);
    expect(a.stats.synced).toBeGreaterThan(0);
    expect(b.stats.synced).toBeGreaterThan(0);
    expect(a.stats.synced + b.stats.synced).toBe(lives.length);
    expect(await statusCount('SYNCED')).toBe(lives.length);
    const pushedSteps = target.pushes.flatMap((p) => p.parts);
    expect(pushedSteps).toHaveLength(new Set(pushedSteps).size);
    expect(pushedSteps).toHaveLength(lives.reduce((n, l) => n + l.steps.length, 0));
  });

  /** Received dossiers (one header, one step each), ingested, and a target whose every push takes `pushMs`. */
  const slowWorld = async (count: number, seed: number, pushMs: number) => {
    const lives = Array.from({ length: count }, (_, i) =>
      dossierLifecycle(new Rng(seed + i), { number: i + 1, endAt: 2 }),
    );
    await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
    const target = new ScriptedTarget();
    target.behaviour = async (e) => {
      await sleep(pushMs);
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    return { lives, target };
  };
  const allSynced = (n: number) =>
    expectEventually(async () => expect(await states()).toEqual({ SYNCED: n }), {
      timeoutMs: 30_000,
    });

  it('claims only for free push slots: with slow pushes and a short lease, two dispatchers never push a dossier twice', async () => {
    // Regression: claiming a large batch for few push slots left claimed rows queued locally while
    // their lease ran out; the other instance reclaimed and pushed them too (steps doubled at DVCQG).
    const { lives, target } = await slowWorld(24, 700, 150);
    // 24 rows × 150 ms over 2 slots = 1.8 s of pushing: well beyond the 1 s lease if rows were
    // claimed up front.
    const options = { leaseMs: 1_000, concurrency: 2, idleMs: 20 };
    const a = dispatcher(target, options);
    const b = dispatcher(target, options);
    a.start();
    b.start();
    await allSynced(lives.length);
    await Promise.all([a.stop(), b.stop()]);
    expect(target.overlaps).toBe(0);
    expect(target.pushes).toHaveLength(lives.length);
    expect(new Set(target.pushes.map((p) => p.key)).size).toBe(lives.length);
  });

  it('renews the lease while a push outlasts it: the other dispatcher never takes the dossier', async () => {
    const { lives, target } = await slowWorld(3, 800, 2_500);
    const options = { leaseMs: 1_000, concurrency: 4, idleMs: 20 };
    const a = dispatcher(target, options);
    a.start();
    await expectEventually(() => expect(target.pushes).toHaveLength(lives.length));
    const b = dispatcher(target, options);
    b.start();
    await allSynced(lives.length);
    await Promise.all([a.stop(), b.stop()]);
    expect(target.overlaps).toBe(0);
    expect(target.pushes).toHaveLength(lives.length);
    expect(b.stats.synced).toBe(0);
  });

  it('coalesces changes that piled up during an outage into one push of the latest state', async () => {
    const life = dossierLifecycle(new Rng(41), { supplement: true });
    const items = itemsOf(life);
    const target = new ScriptedTarget();
    target.behaviour = () =>
      Promise.reject(PortalCallError.retriable('PORTAL_UNAVAILABLE', '503', { httpStatus: 503 }));
    const d = dispatcher(target);
    await ingest.ingest(ds.manager, items.slice(0, 2));
    await d.runOnce();
    expect(await states()).toEqual({ RETRYING: 1 });
    await ingest.ingest(ds.manager, items.slice(2));
    target.behaviour = (e) => Promise.resolve({ pushedParts: e.parts.map((p) => p.partKey) });
    await expectEventually(async () => {
      await d.runOnce();
      expect(await states()).toEqual({ SYNCED: 1 });
    });
    const successful = target.pushes.at(-1);
    expect(successful?.sequence).toBe(
      Math.max(...life.events.filter((e) => e.kind === 'upsert').map((e) => e.sequence)),
    );
    expect(successful?.parts).toEqual(life.steps.map((s) => s.MaBuocXuLy));
    expect(await statusCount('RETRYING')).toBeGreaterThanOrEqual(1);
    expect(await statusCount('SYNCED')).toBe(1);
  });

  it('a permanent rejection is REJECTED with the portal words, and is not retried', async () => {
    const life = dossierLifecycle(new Rng(42), { endAt: 2 });
    await ingest.ingest(ds.manager, itemsOf(life));
    const target = new ScriptedTarget();
    target.behaviour = () =>
      Promise.reject(
        PortalCallError.permanent('PORTAL_REJECTED', 'DVCQG rejected DongBoHoSoMC', {
          portalCode: '02',
          portalMessage: 'Ngày hẹn trả không được trước ngày tiếp nhận',
        }),
      );
    const d = dispatcher(target);
    d.start();
    await expectEventually(async () => expect(await states()).toEqual({ REJECTED: 1 }));
    await sleep(200);
    await d.stop();
    expect(target.pushes).toHaveLength(1);
    const [status] = await ctx.sql.query<{ payload: { error: unknown } }>(
      `select payload from outbox where payload->>'state' = 'REJECTED'`,
    );
    expect(status?.payload.error).toEqual({
      code: 'PORTAL_REJECTED',
      class: 'permanent',
      message: 'Ngày hẹn trả không được trước ngày tiếp nhận',
      portalCode: '02',
    });
  });

  it('claims nothing while the breaker is open; nothing is lost', async () => {
    const lives = Array.from({ length: 5 }, (_, i) =>
      dossierLifecycle(new Rng(50 + i), { endAt: 2 }),
    );
    await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
    const target = new ScriptedTarget();
    target.open = true;
    const d = dispatcher(target);
    expect(await d.runOnce()).toBe(0);
    expect(target.pushes).toHaveLength(0);
    target.open = false;
    await expectEventually(async () => {
      await d.runOnce();
      expect(await states()).toEqual({ SYNCED: 5 });
    });
  });

  it('records the steps a failed push already delivered, and sends only the rest next time', async () => {
    const life = dossierLifecycle(new Rng(43), { supplement: true });
    await ingest.ingest(ds.manager, itemsOf(life));
    const target = new ScriptedTarget();
    target.behaviour = (e) =>
      Promise.reject(
        new PushFailure(
          PortalCallError.retriable('PORTAL_TIMEOUT', 'timeout'),
          e.parts.slice(0, 2).map((p) => p.partKey),
        ),
      );
    const d = dispatcher(target);
    await d.runOnce();
    target.behaviour = (e) => Promise.resolve({ pushedParts: e.parts.map((p) => p.partKey) });
    await expectEventually(async () => {
      await d.runOnce();
      expect(await states()).toEqual({ SYNCED: 1 });
    });
    const all = target.pushes.flatMap((p, i) => (i === 0 ? p.parts.slice(0, 2) : p.parts));
    expect(all).toEqual(life.steps.map((s) => s.MaBuocXuLy));
    // After a timeout the portal may hold more than we know: the retry is flagged so the adapter looks first.
    expect(target.pushes.map((p) => p.uncertain)).toEqual([false, true]);
  });

  it('reclaims the rows of a crashed worker once its lease expires', async () => {
    const life = dossierLifecycle(new Rng(44), { endAt: 2 });
    await ingest.ingest(ds.manager, itemsOf(life));
    // A worker claimed the row and died: its lease is in the database, its process is gone.
    await ctx.sql.query(
      `update sync_entity set lease_owner = 'dead-worker', lease_until = now() + interval '300 milliseconds'`,
    );
    const target = new ScriptedTarget();
    const d = dispatcher(target);
    expect(await d.runOnce()).toBe(0);
    await expectEventually(async () => {
      await d.runOnce();
      expect(await states()).toEqual({ SYNCED: 1 });
    });
    expect(target.pushes).toHaveLength(1);
    expect(target.pushes[0]?.uncertain).toBe(true);
  });
  it('a step ingested while its dossier is being pushed, committed after the push ends, is pushed next round (never stranded)', async () => {
    const life = dossierLifecycle(new Rng(45), { endAt: 4, supplement: false });
    const items = itemsOf(life);
    const lateStep = items.pop() as LedgerItem;
    expect(lateStep.kind).toBe('part');
    await ingest.ingest(ds.manager, items);
    const target = new ScriptedTarget();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((done) => (release = done));
    target.behaviour = async (e) => {
      await gate;
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    const d = dispatcher(target);
    const round = d.runOnce();
    await expectEventually(() => expect(target.pushes).toHaveLength(1));

    // The new step's consumer transaction is open while the push finishes.
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await ingest.ingest(qr.manager, [lateStep]);
    release();
    await sleep(300);
    await qr.commitTransaction();
    await qr.release();
    await round;

    expect(await states()).toEqual({ PENDING: 1 });
    await d.runOnce();
    expect(await states()).toEqual({ SYNCED: 1 });
    expect(target.pushes[1]?.parts).toEqual([lateStep.partKey]);
  });
});
