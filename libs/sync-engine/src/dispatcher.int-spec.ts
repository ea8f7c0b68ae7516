import { randomUUID } from 'node:crypto';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { PortalCallError } from '@lienthong/resilience';
import {
  FIXTURE_COMMUNES,
  Rng,
  dossierLifecycle,
  expectEventually,
  useTestContext,
} from '@lienthong/testing';
import type { DossierLifecycle } from '@lienthong/testing';
import { Dispatcher } from './dispatcher';
import type { DispatcherOptions } from './dispatcher';
import { LedgerIngest } from './ledger-ingest';
import type { LedgerItem } from './ledger-ingest';
import { LedgerFiguresReader } from './ledger-figures';
import { LeaseLostError, PushFailure, PushTarget } from './push-target.port';
import type { ClaimedEntity, PushReceipt } from './push-target.port';
import { resyncScope } from './resync';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';
import { pauseCommunes, resumeCommunes } from './target-pause';
import { Wakeup } from './wakeup';

type Behaviour = (entity: ClaimedEntity) => Promise<PushReceipt>;

/** A node of EXPLAIN (FORMAT JSON)'s plan. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan, depth first. */
const nodes = (node: PlanNode | undefined): PlanNode[] =>
  node ? [node, ...(node.Plans ?? []).flatMap(nodes)] : [];

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
      // A push is never instantaneous: yield, so other pushes of the round interleave with it.
      await setImmediate();
      return await this.behaviour(entity);
    } finally {
      this.inFlight.delete(entity.entityKey);
    }
  }

  blocked(): boolean {
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
    source: `/communes/${life.commune.code}/test`,
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
    await ctx.sql.query(
      'truncate sync_entity, sync_entity_part, processed_event, outbox, commune_pause',
    );
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
          `select count(*) n from outbox_status where payload->>'state' = $1`,
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
      await sleep(pushMs); // the portal's latency in this world, not a wait for a race
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
      Promise.reject(new PortalCallError('PORTAL_UNAVAILABLE', '503', { httpStatus: 503 }));
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
    // SYNCED names the newest event the portal now reflects: here a step (its last event),
    // marked pushed by the very statement that made the dossier SYNCED.
    expect(life.events.at(-1)?.kind).toBe('step');
    const [synced] = await ctx.sql.query<{ sequence: number }>(
      `select (payload->>'sequence')::int as sequence from outbox_status where payload->>'state' = 'SYNCED'`,
    );
    expect(synced?.sequence).toBe(life.events.at(-1)?.sequence);
  });

  it('a permanent rejection is REJECTED with the portal words, and is not retried', async () => {
    const life = dossierLifecycle(new Rng(42), { endAt: 2 });
    await ingest.ingest(ds.manager, itemsOf(life));
    const target = new ScriptedTarget();
    target.behaviour = () =>
      Promise.reject(
        new PortalCallError('PORTAL_REJECTED', 'DVCQG rejected DongBoHoSoMC', {
          portalCode: '02',
          portalMessage: 'Ngày hẹn trả không được trước ngày tiếp nhận',
        }),
      );
    const d = dispatcher(target);
    d.start();
    await expectEventually(async () => expect(await states()).toEqual({ REJECTED: 1 }));
    await d.stop();
    // Two more full rounds: a rejected entity is never claimed again.
    await d.runOnce();
    await d.runOnce();
    expect(target.pushes).toHaveLength(1);
    const [status] = await ctx.sql.query<{ payload: { error: unknown } }>(
      `select payload from outbox_status where payload->>'state' = 'REJECTED'`,
    );
    expect(status?.payload.error).toEqual({
      code: 'PORTAL_REJECTED',
      class: 'permanent',
      message: 'DVCQG rejected DongBoHoSoMC: Ngày hẹn trả không được trước ngày tiếp nhận',
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
          new PortalCallError('PORTAL_TIMEOUT', 'timeout'),
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
  /** A gate a scripted push waits on until the test opens it (no sleeping to force a race). */
  const gate = () => {
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
  };

  /**
   * A dossier ingested without its last step, then pushed; while the push is held, `late` (built
   * from the items ingested and that step) is ingested in a consumer transaction left open until
   * the push's outcome waits on the row it updated. Returns after the round, with the late batch's
   * report.
   */
  const ingestDuringPush = async (
    seed: number,
    late: (items: LedgerItem[], lateStep: LedgerItem) => LedgerItem[],
  ) => {
    const life = dossierLifecycle(new Rng(seed), { endAt: 4, supplement: false });
    const items = itemsOf(life);
    const lateStep = items.pop() as LedgerItem;
    expect(lateStep.kind).toBe('part');
    await ingest.ingest(ds.manager, items);
    const target = new ScriptedTarget();
    const pushing = gate();
    target.behaviour = async (e) => {
      await pushing.opened;
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    const d = dispatcher(target);
    const round = d.runOnce();
    await expectEventually(() => expect(target.pushes).toHaveLength(1));

    // The late batch's consumer transaction is open while the push finishes.
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    const report = await ingest.ingest(qr.manager, late(items, lateStep));
    pushing.open();
    // The push's outcome write now waits on the row the open transaction updated.
    await expectEventually(async () => {
      const [waiting] = await ctx.sql.query<{ n: string }>(
        `select count(*) n from pg_locks l join pg_stat_activity a using (pid)
         where not l.granted and a.datname = current_database() and a.query ilike '%sync_entity%'`,
      );
      expect(Number(waiting?.n)).toBeGreaterThan(0);
    });
    await qr.commitTransaction();
    await qr.release();
    await round;
    return { d, target, lateStep, report };
  };

  it('a step ingested while its dossier is being pushed, committed after the push ends, is pushed next round (never stranded)', async () => {
    const { d, target, lateStep } = await ingestDuringPush(45, (_, step) => [step]);

    expect(await states()).toEqual({ PENDING: 1 });
    await d.runOnce();
    expect(await states()).toEqual({ SYNCED: 1 });
    expect(target.pushes[1]?.parts).toEqual([lateStep.partKey]);
  });

  it('a resent snapshot and a new step in one batch while the dossier is being pushed: the step is pushed next round', async () => {
    // Ingest bumps the version of a row it updates for a snapshot in the same statement when the
    // batch brings parts for it too, and does not write the row again for those parts. With the
    // same content under a newer sequence, only that bump tells the push's outcome that a part
    // came in while it ran.
    const { d, target, lateStep, report } = await ingestDuringPush(46, (items, step) => {
      const last = items.filter((i) => i.kind === 'snapshot').at(-1) as LedgerItem;
      const resent: LedgerItem = {
        ...last,
        eventId: `${last.eventId}-resent`,
        sequence: Math.max(...items.map((i) => i.sequence)) + 1,
      };
      return [resent, step];
    });
    expect(report).toMatchObject({ accepted: 2 });

    expect(await states()).toEqual({ PENDING: 1 });
    await d.runOnce();
    expect(await states()).toEqual({ SYNCED: 1 });
    expect(target.pushes[1]?.parts).toEqual([lateStep.partKey]);
  });

  it('a finished push wakes the pool only when its dossier is due again: no claim per push, a step ingested during the push is pushed at once', async () => {
    for (const seed of [51, 52, 53])
      await ingest.ingest(
        ds.manager,
        itemsOf(dossierLifecycle(new Rng(seed), { endAt: 4, supplement: false })),
      );
    const late = itemsOf(dossierLifecycle(new Rng(54), { endAt: 4, supplement: false }));
    const lateStep = late.pop() as LedgerItem;
    const lateKey = lateStep.entityKey;
    const target = new ScriptedTarget();
    const pushing = gate();
    target.behaviour = async (e) => {
      if (e.entityKey === lateKey) await pushing.opened;
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    // Only the test and the pool itself wake it: the idle poll would come after the test.
    const wakeup = new Wakeup();
    const d = dispatcher(target, { idleMs: 60_000, wakeup });
    const query = jest.spyOn(ds, 'query');
    const claims = () =>
      query.mock.calls.filter(([sql]) => String(sql).includes('with recursive walk')).length;
    try {
      d.start();
      await expectEventually(async () => expect(await states()).toEqual({ SYNCED: 3 }));

      // A dossier whose step arrives while it is being pushed: its push's outcome leaves it due.
      await ingest.ingest(ds.manager, late);
      wakeup.notify();
      await expectEventually(() => expect(target.pushes.map((p) => p.key)).toContain(lateKey));
      await ingest.ingest(ds.manager, [lateStep]);
      pushing.open();
      await expectEventually(async () => expect(await states()).toEqual({ SYNCED: 4 }));
      await d.stop();
      expect(target.pushes.filter((p) => p.key === lateKey).at(-1)?.parts).toEqual([
        lateStep.partKey,
      ]);
      // The first three in one claim, the fourth after the notify, its step after its push.
      expect(claims()).toBe(3);
    } finally {
      query.mockRestore();
      await d.stop();
    }
  });

  it('reports a backlog while due rows wait for a push slot, and none once a claim comes back short', async () => {
    for (const seed of [61, 62, 63, 64, 65])
      await ingest.ingest(
        ds.manager,
        itemsOf(dossierLifecycle(new Rng(seed), { endAt: 2, supplement: false })),
      );
    const target = new ScriptedTarget();
    const pushing = gate();
    target.behaviour = async (e) => {
      await pushing.opened;
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    const d = dispatcher(target, { concurrency: 2 });
    expect(d.backlogged()).toBe(false);
    try {
      d.start();
      // Two slots, five dossiers due: the first claim filled both, three wait.
      await expectEventually(() => expect(target.pushes).toHaveLength(2));
      expect(d.backlogged()).toBe(true);
      pushing.open();
      await expectEventually(async () => expect(await states()).toEqual({ SYNCED: 5 }));
      // A claim after the last pushes found fewer due rows than free slots.
      await expectEventually(() => expect(d.backlogged()).toBe(false));
    } finally {
      pushing.open();
      await d.stop();
    }
  });

  it('a rejection rejects only what was pushed: a newer state ingested during the push stays due and is pushed', async () => {
    const life = dossierLifecycle(new Rng(910), { supplement: true });
    const items = itemsOf(life);
    const snapshots = items.filter((i) => i.kind === 'snapshot');
    await ingest.ingest(ds.manager, [snapshots[0] as LedgerItem]);
    const target = new ScriptedTarget();
    const pushing = gate();
    const release = gate();
    target.behaviour = async (e) => {
      if (e.sourceSequence === snapshots[0]?.sequence) {
        pushing.open();
        await release.opened;
        throw new PortalCallError('PORTAL_REJECTED', 'DVCQG rejected DongBoHoSoMC', {
          portalCode: '02',
        });
      }
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    const d = dispatcher(target);
    const first = d.runOnce();
    await pushing.opened;
    await ingest.ingest(ds.manager, [snapshots[1] as LedgerItem]);
    release.open();
    await first;
    expect(await states()).toEqual({ PENDING: 1 });
    expect(await statusCount('REJECTED')).toBe(0);
    await d.runOnce();
    expect(await states()).toEqual({ SYNCED: 1 });
    expect(target.pushes.map((p) => p.sequence)).toEqual([
      snapshots[0]?.sequence,
      snapshots[1]?.sequence,
    ]);
  });

  it('a credential or endpoint failure holds the target: nothing is rejected or counted, every entity syncs once it works', async () => {
    const lives = Array.from({ length: 6 }, (_, i) =>
      dossierLifecycle(new Rng(920 + i), { number: i + 1, endAt: 2 }),
    );
    await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
    const target = new ScriptedTarget();
    target.behaviour = () =>
      Promise.reject(new PortalCallError('PORTAL_AUTH_FAILED', 'DVCQG refused our credentials'));
    const d = dispatcher(target);
    await d.runOnce();
    expect(await states()).toEqual({ PENDING: lives.length });
    const [row] = await ctx.sql.query<{ attempts: number }>(
      'select max(attempts) attempts from sync_entity',
    );
    expect(row?.attempts).toBe(0);
    expect(await statusCount('REJECTED')).toBe(0);
    expect(await statusCount('RETRYING')).toBe(0);
    expect(d.stats.waitingOnBreaker).toBe(lives.length);
    target.behaviour = (e) => Promise.resolve({ pushedParts: e.parts.map((p) => p.partKey) });
    await expectEventually(async () => {
      await d.runOnce();
      expect(await states()).toEqual({ SYNCED: lives.length });
    });
  });

  it('fenced leases: a worker whose lease was taken over stops between chunks and records nothing; no step reaches the portal twice, even with the same instance id', async () => {
    const life = dossierLifecycle(new Rng(930), { supplement: true });
    await ingest.ingest(ds.manager, itemsOf(life));
    /** What the portal holds: each step key with how many times it was written. */
    const portal = new Map<string, number>();
    const firstChunkDone = gate();
    const resumeA = gate();
    let calls = 0;
    const target = new ScriptedTarget();
    target.behaviour = async (e) => {
      const mine = ++calls;
      // One step per chunk; an uncertain claim looks at the portal first (as DVCQG's lookup), and
      // what the portal holds already counts as pushed.
      const held = e.uncertain ? e.parts.filter((p) => portal.has(p.partKey)) : [];
      const pushed = held.map((p) => p.partKey);
      const todo = e.parts.filter((p) => !held.includes(p));
      for (const [i, part] of todo.entries()) {
        await e.lease.confirm();
        portal.set(part.partKey, (portal.get(part.partKey) ?? 0) + 1);
        pushed.push(part.partKey);
        if (mine === 1 && i === 0) {
          firstChunkDone.open();
          await resumeA.opened;
        }
      }
      return { pushedParts: pushed };
    };
    const owner = 'same-instance-id';
    const a = dispatcher(target, { owner, leaseMs: 60_000 });
    const b = dispatcher(target, { owner, leaseMs: 60_000 });
    const pushA = a.runOnce();
    await firstChunkDone.opened;
    // A's lease runs out (a starved pool, a database restart): B, same instance id, takes over.
    await ctx.sql.query(`update sync_entity set lease_until = now() - interval '1 second'`);
    await b.runOnce();
    resumeA.open();
    await pushA;
    expect(await states()).toEqual({ SYNCED: 1 });
    expect([...portal.values()].filter((n) => n > 1)).toEqual([]);
    expect([...portal.keys()].sort()).toEqual(life.steps.map((s) => s.MaBuocXuLy).sort());
    expect(a.stats).toMatchObject({ synced: 0, leaseLost: 1 });
    expect(b.stats.synced).toBe(1);
    expect(await statusCount('SYNCED')).toBe(1);
  });

  it('outcomes only from the lease holder: a failure recorded after the lease was taken over writes nothing', async () => {
    const life = dossierLifecycle(new Rng(940), { endAt: 2 });
    await ingest.ingest(ds.manager, itemsOf(life));
    const pushing = gate();
    const fail = gate();
    let calls = 0;
    const target = new ScriptedTarget();
    target.behaviour = async (e) => {
      if (++calls === 1) {
        pushing.open();
        await fail.opened;
        throw new PortalCallError('PORTAL_REJECTED', 'late rejection from a stale worker');
      }
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    const a = dispatcher(target, { owner: 'w', leaseMs: 60_000 });
    const b = dispatcher(target, { owner: 'w', leaseMs: 60_000 });
    const pushA = a.runOnce();
    await pushing.opened;
    await ctx.sql.query(`update sync_entity set lease_until = now() - interval '1 second'`);
    await b.runOnce();
    fail.open();
    await pushA;
    expect(await states()).toEqual({ SYNCED: 1 });
    expect(await statusCount('REJECTED')).toBe(0);
    expect(a.stats).toMatchObject({ rejected: 0, leaseLost: 1 });
  });

  it('group commit: concurrent outcomes share transactions; a row another writer holds is recorded alone once free; a lost lease in a batch writes nothing for it', async () => {
    const lives = Array.from({ length: 12 }, (_, i) =>
      dossierLifecycle(new Rng(960 + i), { number: i + 1, endAt: 4 }),
    );
    await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
    const finish = gate();
    let confirmed = 0;
    const target = new ScriptedTarget();
    target.behaviour = async (e) => {
      await e.lease.confirm();
      confirmed += 1;
      await finish.opened;
      return { pushedParts: e.parts.map((p) => p.partKey) };
    };
    const d = dispatcher(target, { concurrency: lives.length });
    const round = d.runOnce();
    await expectEventually(() => expect(confirmed).toBe(lives.length));
    const [busy, stolen] = [lives[0]?.code as string, lives[1]?.code as string];
    // Another worker took one row over; another writer (an ingest transaction) holds another.
    await ctx.sql.query(
      `update sync_entity set lease_token = gen_random_uuid() where entity_key = $1`,
      [stolen],
    );
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await qr.query('select 1 from sync_entity where entity_key = $1 for update', [busy]);
    finish.open();
    // Everything else is recorded while the held row waits (a batch never waits for a lock).
    await expectEventually(async () =>
      expect(await states()).toEqual({ SYNCED: lives.length - 2, PENDING: 2 }),
    );
    await qr.commitTransaction();
    await qr.release();
    await round;
    expect(await states()).toEqual({ SYNCED: lives.length - 1, PENDING: 1 });
    // The stolen row is left to its new holder: still leased, nothing recorded.
    const pending = await ctx.sql.query<{ entity_key: string; leased: boolean }>(
      `select entity_key, lease_token is not null as leased from sync_entity where state = 'PENDING'`,
    );
    expect(pending).toEqual([{ entity_key: stolen, leased: true }]);
    expect(d.stats).toMatchObject({ synced: lives.length - 1, leaseLost: 1 });
    // One SYNCED status per synced dossier, written by fewer transactions than dossiers.
    const written = await ctx.sql.query<{ statuses: string; transactions: string }>(
      `select count(*) statuses, count(distinct tx) transactions from outbox_status where payload->>'state' = 'SYNCED'`,
    );
    expect(Number(written[0]?.statuses)).toBe(lives.length - 1);
    expect(Number(written[0]?.transactions)).toBeLessThan(lives.length - 2);
    // Every step of every synced dossier is marked pushed.
    const unpushed = await ctx.sql.query<{ n: string }>(
      `select count(*) n from sync_entity_part where pushed_at is null and entity_key <> $1`,
      [stolen],
    );
    expect(Number(unpushed[0]?.n)).toBe(0);
  });

  it('fairness: one commune bulk import cannot hold every push slot; a pending dossier that keeps changing keeps its place', async () => {
    const bulk = Array.from({ length: 120 }, (_, i) =>
      dossierLifecycle(new Rng(1000 + i), { number: i + 1, endAt: 2 }),
    );
    const few = Array.from({ length: 3 }, (_, i) =>
      dossierLifecycle(new Rng(2000 + i), { number: 5000 + i, endAt: 2 }),
    );
    const as = (code: string) => (item: LedgerItem) => ({ ...item, communeCode: code });
    await ingest.ingest(ds.manager, bulk.flatMap(itemsOf).map(as('11111')));
    await ingest.ingest(ds.manager, few.flatMap(itemsOf).map(as('22222')));
    const target = new ScriptedTarget();
    await dispatcher(target, { concurrency: 8 }).runOnce();
    const first = new Set(target.pushes.map((p) => p.key));
    expect(few.map((l) => l.code).filter((c) => !first.has(c))).toEqual([]);

    // A hot dossier updated again and again while pending does not go to the back of the line.
    const hot = dossierLifecycle(new Rng(3000), { supplement: true });
    const hotItems = itemsOf(hot).filter((i) => i.kind === 'snapshot');
    await ingest.ingest(ds.manager, [hotItems[0] as LedgerItem]);
    const placed = async () =>
      (
        await ctx.sql.query<{ at: Date }>(
          'select next_attempt_at at from sync_entity where entity_key = $1',
          [hot.code],
        )
      )[0]?.at.getTime();
    const before = await placed();
    for (const item of hotItems.slice(1)) await ingest.ingest(ds.manager, [item]);
    expect(await placed()).toBe(before);
  });

  it('a claim passes over rows a concurrent claim holds locked and still fills every free slot', async () => {
    const communes = ['11111', '22222', '33333', '44444'];
    const lives = Array.from({ length: 40 }, (_, i) =>
      dossierLifecycle(new Rng(4000 + i), { number: 6000 + i, endAt: 2 }),
    );
    await ingest.ingest(
      ds.manager,
      lives.flatMap((life, i) =>
        itemsOf(life).map((item) => ({ ...item, communeCode: communes[i % 4] as string })),
      ),
    );
    // Another instance's claim, mid-transaction, holds every due row of the first commune: its
    // rows are first in line at every turn.
    const other = ds.createQueryRunner();
    await other.connect();
    await other.startTransaction();
    try {
      const rows = (await other.query(
        `select entity_key from sync_entity where commune_code = $1 for update`,
        [communes[0]],
      )) as Array<{ entity_key: string }>;
      const held = rows.map((r) => r.entity_key);
      expect(held).toHaveLength(10);
      const target = new ScriptedTarget();
      await dispatcher(target, { concurrency: 8 }).runOnce();
      const pushed = target.pushes.map((p) => p.key);
      expect(new Set(pushed).size).toBe(8);
      expect(pushed.filter((key) => held.includes(key))).toEqual([]);
    } finally {
      await other.rollbackTransaction();
      await other.release();
    }
  });

  it('a claim planned on an empty table still locks its candidates by address, found one commune at a time, once the backlog is there', async () => {
    // The claim is a prepared statement: its connection makes one generic plan at first use and
    // keeps it until the table is analysed. Made on an empty table every index looks alike; a plan
    // that then walked an index of the whole backlog for each candidate took 74 ms a claim.
    const connection = ds.createQueryRunner();
    await connection.connect();
    try {
      const onConnection = { query: connection.query.bind(connection) } as unknown as DataSource;
      await expect(
        dispatcher(new ScriptedTarget(), { dataSource: onConnection }).runOnce(),
      ).resolves.toBe(0);
      const [claim] = (await connection.query(
        `select name from pg_prepared_statements where statement like 'with recursive walk%'`,
      )) as Array<{ name: string }>;
      expect(claim).toBeDefined();
      const lives = Array.from({ length: 300 }, (_, i) =>
        dossierLifecycle(new Rng(9000 + i), { number: 9000 + i, endAt: 2 }),
      );
      await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
      const explained = (await connection.query(
        `explain (format json) execute ${claim?.name}('w', 30000, 'dvcqg', 8, '', 256)`,
      )) as Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>;
      const all = nodes(explained[0]?.['QUERY PLAN'][0]?.Plan);
      const reads = (within: PlanNode[]) =>
        within
          .filter((n) => n['Relation Name'] === 'sync_entity')
          .map((n) => `${n['Node Type']} ${n['Index Cond'] ?? ''}`.trim());
      // The candidates are locked by address (a TID scan), whatever the plan guessed of the table.
      const locking = all.filter((n) => n['Node Type'] === 'LockRows');
      expect(locking).toHaveLength(1);
      const lockingReads = reads(nodes(locking[0]));
      expect(lockingReads).toContain('Tid Scan');
      // Beside it, only the candidates' probes of one commune at a time.
      expect(lockingReads.filter((r) => r !== 'Tid Scan' && !/commune_code = /.test(r))).toEqual(
        [],
      );
      // And nothing reads the ledger whole.
      expect(reads(all).filter((r) => r.startsWith('Seq Scan'))).toEqual([]);
      // The plan was made on the empty table and kept: still one prepared claim, never re-made.
      const [kept] = (await connection.query(
        `select generic_plans, custom_plans from pg_prepared_statements where name = $1`,
        [claim?.name],
      )) as Array<{ generic_plans: string; custom_plans: string }>;
      expect(kept?.custom_plans).toBe('0');
    } finally {
      await connection.release();
    }
  });

  it('claims walk the communes in rotation, a bounded number at a time: every commune is reached, past hundreds that have nothing due', async () => {
    // 40 communes with two due dossiers each: claims of two walk at most eight communes with due
    // rows, from where the last one stopped, so 20 claims reach every commune once, in code order,
    // before any commune's second dossier goes (with all 40 communes walked at once, the oldest
    // heads went first, in no order among equals).
    const code = (n: number) => `7${String(n).padStart(4, '0')}`;
    const lives = Array.from({ length: 80 }, (_, i) =>
      dossierLifecycle(new Rng(8000 + i), { number: 8000 + i, endAt: 2 }),
    );
    const communeOf = new Map(lives.map((life, i) => [life.code, code(i % 40)]));
    await ingest.ingest(
      ds.manager,
      lives.flatMap((life) =>
        itemsOf(life).map((item) => ({ ...item, communeCode: communeOf.get(life.code) as string })),
      ),
    );
    const target = new ScriptedTarget();
    const worker = dispatcher(target, { concurrency: 2 });
    for (let round = 0; round < 20; round += 1) expect(await worker.runOnce()).toBe(2);
    const inOrder = Array.from({ length: 40 }, (_, i) => code(i));
    expect(target.pushes.map((p) => communeOf.get(p.key))).toEqual(inOrder);
    // The walk wraps round: the next 20 claims take every commune's second dossier, in order.
    for (let round = 0; round < 20; round += 1) expect(await worker.runOnce()).toBe(2);
    expect(target.pushes.map((p) => communeOf.get(p.key))).toEqual([...inOrder, ...inOrder]);
    expect(await states()).toEqual({ SYNCED: 80 });

    // 300 communes with nothing to claim (more than one walk looks at): 150 whose rows all wait
    // for a retry an hour from now, 150 with due rows an operator paused; then one with a due
    // dossier: a running dispatcher reaches it without waiting for its idle poll.
    await ctx.sql.query('truncate sync_entity, sync_entity_part');
    await ctx.sql.query(
      `insert into sync_entity (entity_type, entity_key, commune_code, target, source_sequence, desired,
         desired_fingerprint, state, next_attempt_at)
       select 'dossier', 'B' || g, '8' || lpad(g::text, 4, '0'), 'dvcqg', 1, '{}', 'fp',
         case when g <= 150 then 'RETRYING' else 'PENDING' end,
         case when g <= 150 then now() + interval '1 hour' else now() - interval '1 minute' end
       from generate_series(1, 300) g`,
    );
    await ctx.sql.query(
      `insert into commune_pause (commune_code, paused_by, reason, command_id)
       select '8' || lpad(g::text, 4, '0'), 'ops.test', 'paused', gen_random_uuid()
       from generate_series(151, 300) g`,
    );
    const last = dossierLifecycle(new Rng(8100), { number: 8100, endAt: 2 });
    await ingest.ingest(
      ds.manager,
      itemsOf(last).map((item) => ({ ...item, communeCode: '99999' })),
    );
    const patient = dispatcher(target, { concurrency: 2, idleMs: 60_000 });
    const before = target.pushes.length;
    patient.start();
    try {
      await expectEventually(async () =>
        expect(await states()).toEqual({ RETRYING: 150, PENDING: 150, SYNCED: 1 }),
      );
    } finally {
      await patient.stop();
    }
    expect(target.pushes.slice(before).map((p) => p.key)).toEqual([last.code]);
  });

  it('write-ahead parts: a chunk whose outcome is lost is sent again and counted as possibly duplicated; one the portal surely refused is not', async () => {
    const life = dossierLifecycle(new Rng(77), { endAt: 4 });
    await ingest.ingest(ds.manager, itemsOf(life));
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    const target = new ScriptedTarget();
    const d = dispatcher(target);
    const sendsOf = async () =>
      (
        await ctx.sql.query<{ part_key: string; sends: number; pushed: boolean }>(
          'select part_key, sends, pushed_at is not null as pushed from sync_entity_part order by source_sequence',
        )
      ).map((r) => [r.sends, r.pushed]);
    const figures = new LedgerFiguresReader(ds, 0);

    // 1. The portal refuses the call as a whole (503): nothing was taken, nothing counted.
    target.behaviour = async (e) => {
      await e.lease.confirm(e.parts.map((p) => p.partKey));
      throw new PortalCallError('PORTAL_UNAVAILABLE', 'DVCQG answered 503', { httpStatus: 503 });
    };
    await d.runOnce();
    expect(await sendsOf()).toEqual(keys.map(() => [0, false]));

    // 2. A timeout: the portal may have taken it.
    await ctx.sql.query(`update sync_entity set next_attempt_at = now()`);
    target.behaviour = async (e) => {
      await e.lease.confirm(e.parts.map((p) => p.partKey));
      throw new PortalCallError('PORTAL_TIMEOUT', 'DVCQG did not answer in time');
    };
    await d.runOnce();
    expect(await sendsOf()).toEqual(keys.map(() => [1, false]));

    // 3. Sent again and taken: each part marked pushed as soon as its chunk is, and counted.
    await ctx.sql.query(`update sync_entity set next_attempt_at = now()`);
    target.behaviour = async (e) => {
      expect(e.parts.map((p) => p.sends)).toEqual(keys.map(() => 1));
      const chunk = e.parts.map((p) => p.partKey);
      await e.lease.confirm(chunk);
      await e.lease.pushed(chunk);
      return { pushedParts: chunk };
    };
    await d.runOnce();
    expect(await sendsOf()).toEqual(keys.map(() => [2, true]));
    expect(await states()).toEqual({ SYNCED: 1 });
    expect((await figures.read()).partsPossiblyDuplicated).toBe(keys.length);
  });

  it('a failed push takes back only its own marks: a step an earlier attempt may have delivered stays marked, whatever fails next', async () => {
    const life = dossierLifecycle(new Rng(79), { endAt: 4 });
    await ingest.ingest(ds.manager, itemsOf(life));
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    const target = new ScriptedTarget();
    const d = dispatcher(target);
    const sends = async () =>
      (await ctx.sql.query<{ sends: number }>('select sends from sync_entity_part')).map(
        (r) => r.sends,
      );
    const refused = () =>
      new PortalCallError('PORTAL_UNAVAILABLE', 'DVCQG answered 503', { httpStatus: 503 });
    const timeout = () => new PortalCallError('PORTAL_TIMEOUT', 'DVCQG did not answer in time');
    /** One attempt (the row made due at once) that fails as `behaviour` says; the sends after it. */
    const attempt = async (behaviour: Behaviour) => {
      await ctx.sql.query(`update sync_entity set next_attempt_at = now()`);
      target.behaviour = behaviour;
      await d.runOnce();
      return sends();
    };
    /** Marks every step as being sent, then fails with `error`. */
    const stepsThen = (error: () => Error) => async (e: ClaimedEntity) => {
      await e.lease.confirm(e.parts.map((p) => p.partKey));
      throw error();
    };

    // 1. The steps' call times out: the portal may hold them.
    expect(await attempt(stepsThen(timeout))).toEqual(keys.map(() => 1));
    // 2. The next attempt's header is refused (503) before any step went: the steps keep the
    // earlier attempt's mark.
    expect(
      await attempt(async (e) => {
        await e.lease.confirm();
        throw refused();
      }),
    ).toEqual(keys.map(() => 1));
    // 3. The steps are sent again and refused as a whole: this attempt's mark is taken back.
    expect(await attempt(stepsThen(refused))).toEqual(keys.map(() => 1));
    // 4. Marked while the header went, and the header timed out: the steps never went (the
    // adapter says so), their mark is taken back.
    expect(await attempt(stepsThen(() => new PushFailure(timeout(), [], keys)))).toEqual(
      keys.map(() => 1),
    );
    expect(await states()).toEqual({ RETRYING: 1 });
  });

  it('a lease taken over: the old holder can neither mark parts as sending nor as pushed', async () => {
    const life = dossierLifecycle(new Rng(78), { endAt: 4 });
    await ingest.ingest(ds.manager, itemsOf(life));
    const target = new ScriptedTarget();
    let outcome: PromiseSettledResult<void>[] = [];
    target.behaviour = async (e) => {
      await ctx.sql.query(`update sync_entity set lease_token = gen_random_uuid()`);
      const keys = e.parts.map((p) => p.partKey);
      outcome = await Promise.allSettled([e.lease.confirm(keys), e.lease.pushed(keys)]);
      return { pushedParts: [] };
    };
    await dispatcher(target).runOnce();
    expect(
      outcome.map((o) => o.status === 'rejected' && o.reason instanceof LeaseLostError),
    ).toEqual([true, true]);
    const parts = await ctx.sql.query<{ sends: number; pushed: boolean }>(
      'select sends, pushed_at is not null as pushed from sync_entity_part',
    );
    expect(parts.every((p) => p.sends === 0 && !p.pushed)).toBe(true);
  });

  it('a young claim vouches for its first portal write without a round trip; a later write, or one after a third of the lease, asks the database', async () => {
    // A token changed behind the worker's back is how a lost lease shows in the database; it can
    // only happen once the lease ran out, so a write the claim vouches for never sees it.
    const lives = [1, 2].map((n) => dossierLifecycle(new Rng(2000 + n), { number: n, endAt: 2 }));
    await ingest.ingest(ds.manager, lives.flatMap(itemsOf));
    let now = 0;
    const written: string[] = [];
    const seen: string[] = [];
    const target = new ScriptedTarget();
    target.behaviour = async (e) => {
      await ctx.sql.query(
        `update sync_entity set lease_token = gen_random_uuid() where entity_key = $1`,
        [e.entityKey],
      );
      // The first dossier writes at once; the second only after a third of the lease went by.
      if (e.entityKey === lives[1]?.code) now += 10_000 / 3;
      const tries = [e.lease.confirm(), e.lease.confirm()];
      for (const attempt of tries)
        await attempt.then(
          () => written.push(e.entityKey),
          (err: unknown) => seen.push(err instanceof LeaseLostError ? 'lost' : String(err)),
        );
      return { pushedParts: [] };
    };
    const d = dispatcher(target, { leaseMs: 10_000, concurrency: 1, clock: () => now });
    expect(await d.runOnce()).toBe(1);
    expect(await d.runOnce()).toBe(1);
    // The first dossier's first write went out on the claim's word, its second asked and found
    // the lease lost; the second dossier's first write already asked.
    expect(written).toEqual([lives[0]?.code]);
    expect(seen).toEqual(['lost', 'lost', 'lost']);
    // Outcomes are still fenced: nothing was recorded for either lease.
    expect(await states()).toEqual({ PENDING: 2 });
    expect(d.stats).toMatchObject({ synced: 0, leaseLost: 2 });
  });

  it("operators' hands: a paused commune's dossiers wait while others sync; a re-sync pushes a synced scope again in full and leaves a push in flight alone", async () => {
    const [a, b] = FIXTURE_COMMUNES as [(typeof FIXTURE_COMMUNES)[0], (typeof FIXTURE_COMMUNES)[0]];
    const lives = (commune: typeof a, from: number) =>
      Array.from({ length: 20 }, (_, i) =>
        dossierLifecycle(new Rng(900 + from + i), { commune, number: from + i, endAt: 4 }),
      );
    const [livesA, livesB] = [lives(a, 1), lives(b, 101)];
    const keysA = new Set(livesA.map((l) => l.code));
    await ingest.ingest(ds.manager, [...livesA, ...livesB].flatMap(itemsOf));
    const commandId = randomUUID();
    expect(
      await pauseCommunes(ds.manager, [a.code], 'ops.hue', 'chỉnh lý dữ liệu', commandId),
    ).toEqual([a.code]);
    expect(await pauseCommunes(ds.manager, [a.code], 'ops.hue', 'again', randomUUID())).toEqual([]);
    const target = new ScriptedTarget();
    const worker = dispatcher(target);
    worker.start();
    const byCommune = async () =>
      Object.fromEntries(
        (
          await ctx.sql.query<{ commune_code: string; state: string; n: string }>(
            'select commune_code, state, count(*) n from sync_entity group by 1, 2',
          )
        ).map((r) => [`${r.commune_code} ${r.state}`, Number(r.n)]),
      );
    await expectEventually(async () =>
      expect(await byCommune()).toEqual({ [`${b.code} SYNCED`]: 20, [`${a.code} PENDING`]: 20 }),
    );
    // Due, yet a round claims none of the paused commune's dossiers.
    expect(await dispatcher(target).runOnce()).toBe(0);
    expect(target.pushes.filter((p) => keysA.has(p.key))).toEqual([]);
    expect(await resumeCommunes(ds.manager, [a.code, b.code])).toEqual([a.code]);
    await expectEventually(async () => expect(await states()).toEqual({ SYNCED: 40 }));

    // A push of one of B's dossiers in flight (a live lease): the re-sync leaves it alone.
    const [busy] = livesB;
    await ctx.sql.query(
      `update sync_entity set lease_until = now() + interval '1 minute' where entity_key = $1`,
      [busy?.code],
    );
    const accepted = await statusCount('ACCEPTED');
    const before = target.pushes.length;
    const outcome = await resyncScope(ds.manager, target, { communeCodes: [b.code] });
    expect(outcome).toEqual({ resynced: 19, inFlight: 1, awaiting: 0 });
    expect(await statusCount('ACCEPTED')).toBe(accepted + 19);
    await expectEventually(async () => expect(await states()).toEqual({ SYNCED: 40 }));
    await worker.stop();
    const again = target.pushes.slice(before);
    // Each re-synced dossier pushed once more, in full (every step again), as of unknown state.
    expect(again.map((p) => p.key).sort()).toEqual(
      livesB
        .slice(1)
        .map((l) => l.code)
        .sort(),
    );
    for (const p of again) {
      const life = livesB.find((l) => l.code === p.key);
      expect(p.parts.sort()).toEqual(life?.steps.map((st) => st.MaBuocXuLy).sort());
      expect(p.uncertain).toBe(true);
    }
  });
});
