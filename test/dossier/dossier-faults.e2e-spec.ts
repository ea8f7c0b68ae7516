import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import { DEFAULT_IN_FLIGHT } from '@lienthong/sync-service';
import {
  BrokerControl,
  PostgresControl,
  Rng,
  dossierLifecycle,
  expectEventually,
  portalAdmin,
  toRecord,
  useTestContext,
} from '@lienthong/testing';
import type { DossierLifecycle } from '@lienthong/testing';
import { DossierWorld, expectPortalHoldsExactly, tracedLifecycleRecords } from './dossier-harness';

/** Consumer-group lag on the dossier topic: records produced but not yet committed by dossier-sync. */
async function groupLag(
  world: DossierWorld,
  ctx: ReturnType<typeof useTestContext>,
): Promise<number> {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(world.topic);
    const [committed] = await admin.fetchOffsets({
      groupId: `${world.topic}.dossier-sync`,
      topics: [world.topic],
    });
    let lag = 0;
    for (const end of ends) {
      const c = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      lag += Number(end.high) - Math.max(0, Number(c));
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

async function syncedCount(world: DossierWorld): Promise<number> {
  return (await world.ledgerStates()).SYNCED ?? 0;
}

describe('dossier-sync under faults: portal outage, crashes, broker restart, business rejection', () => {
  const ctx = useTestContext('dossier_faults');

  it('a 30-second DVCQG outage under load: breaker opens, RETRYING published, Kafka lag stays near zero, everything syncs after recovery', async () => {
    const world = await DossierWorld.create(ctx, 'outage');
    const service = await world.instance('dossier-sync-outage', {
      DVCQG_BREAKER_VOLUME_THRESHOLD: '5',
    });
    await service.start();
    const rng = new Rng(30);
    const lives: DossierLifecycle[] = [];
    const observed = { maxLag: 0, breakerOpen: false, notReady: false, pilingUp: 0 };
    const started = Date.now();
    let down = false;
    let round = 0;
    // 40 s of load, 10 dossiers (~70 events) every 500 ms; DVCQG is down from 5 s to 35 s.
    while (Date.now() - started < 40_000) {
      const elapsed = Date.now() - started;
      if (!down && elapsed >= 5_000 && elapsed < 35_000) {
        await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', { down: true });
        down = true;
      }
      if (down && elapsed >= 35_000) {
        await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', {});
        down = false;
      }
      const batch = Array.from({ length: 10 }, () => dossierLifecycle(rng, { number: ++round }));
      lives.push(...batch);
      await world.produce(batch.flatMap(tracedLifecycleRecords));
      if (down && elapsed > 10_000) {
        observed.maxLag = Math.max(observed.maxLag, await groupLag(world, ctx));
        const breaker = await world.metric(service, 'lienthong_portal_breaker_state{');
        if (breaker.some((l) => l.endsWith(' 2'))) observed.breakerOpen = true;
        if ((await fetch(await service.url('/health/ready'))).status === 503)
          observed.notReady = true;
        const states = await world.ledgerStates();
        observed.pilingUp = Math.max(
          observed.pilingUp,
          (states.PENDING ?? 0) + (states.RETRYING ?? 0),
        );
      }
      await sleep(500); // the load's pace (10 dossiers per 500 ms), not a wait for anything
    }
    if (down) await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', {});

    expect(observed.breakerOpen).toBe(true);
    // Readiness does not follow the portal: an open breaker is reported, the service stays ready
    // (docs/failure-model.md); every instance going unready in an outage would help nobody.
    expect(observed.notReady).toBe(false);
    // The backlog waited in Postgres, not in Kafka: ingestion kept up while pushes could not.
    expect(observed.pilingUp).toBeGreaterThan(100);
    expect(observed.maxLag).toBeLessThan(300);
    expect(world.syncStatuses().some((s) => s.state === 'RETRYING')).toBe(true);

    await world.waitForLedger({ SYNCED: lives.length }, 120_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });
  });

  it('SIGKILL of dossier-sync mid-batch, twice, and a broker restart: nothing lost, nothing applied twice at DVCQG', async () => {
    const world = await DossierWorld.create(ctx, 'crash');
    const service = await world.instance('dossier-sync-crash');
    const rng = new Rng(99);
    const lives = Array.from({ length: 1000 }, (_, i) => dossierLifecycle(rng, { number: i + 1 }));
    await world.produce(lives.flatMap(tracedLifecycleRecords));
    await service.start();

    for (const threshold of [150, 450]) {
      await expectEventually(
        async () => expect(await syncedCount(world)).toBeGreaterThan(threshold),
        {
          timeoutMs: 120_000,
          intervalMs: 50,
        },
      );
      expect(await service.kill()).toBeNull(); // killed by the signal, no exit code
      await service.start();
    }

    const broker = new BrokerControl(ctx.stack.kind);
    await broker.kill();
    // The broker is down when the service itself says so (its readiness checks the broker).
    await expectEventually(
      async () => expect((await fetch(await service.url('/health/ready'))).status).toBe(503),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await broker.start();

    await world.waitForLedger({ SYNCED: lives.length }, 240_000);
    // A kill can lose the outcome of at most the step chunks in flight (one per push slot:
    // DISPATCH_CONCURRENCY, by default DEFAULT_IN_FLIGHT): those are sent again and flagged;
    // DVCQG holds no other repeat.
    const { flagged } = await expectPortalHoldsExactly(world, lives, { stepOrder: true });
    expect(flagged).toBeLessThanOrEqual(2 * DEFAULT_IN_FLIGHT * 10);
  });

  it('a business rejection: REJECTED with the portal message, and no retry storm', async () => {
    const world = await DossierWorld.create(ctx, 'rejection');
    const service = await world.instance('dossier-sync-rejection');
    await service.start();
    const rng = new Rng(7);
    const [badLife, goodLife] = [1, 2].map((number) =>
      dossierLifecycle(rng, { endAt: 2, number }),
    ) as [DossierLifecycle, DossierLifecycle];
    // A procedure code the national catalogue does not know: only the portal can tell.
    const bad = { ...badLife.final, MaTTHC: '9.999999.000.00.00.H56' };
    await world.produce(
      [
        { life: badLife, data: bad },
        { life: goodLife, data: goodLife.final },
      ].map(({ life, data }) =>
        toRecord({
          name: '',
          type: EVENT_TYPES.DossierUpserted,
          topic: TOPICS.communeDossierEvents,
          data,
          communeCode: life.commune.code,
          sequence: 1,
        }),
      ),
    );
    await world.waitForLedger({ REJECTED: 1, SYNCED: 1 }, 60_000);
    await expectEventually(
      () => {
        const rejected = world.syncStatuses().filter((s) => s.state === 'REJECTED');
        expect(rejected).toEqual([
          expect.objectContaining({
            key: bad.MaHoSo,
            error: expect.objectContaining({
              portalCode: '02',
              // The portal's words, with what it echoed of our submission (the code) cut out.
              message: 'DVCQG rejected DongBoHoSoMC: Mã thủ tục hành chính không tồn tại: […]',
            }) as unknown,
          }),
        ]);
      },
      { timeoutMs: 20_000 },
    );
    // No retry storm: dossiers produced after the rejection sync (the dispatcher went round again,
    // several times), and the portal has still been asked to store the rejected one exactly once.
    for (const number of [3, 4, 5]) {
      await world.produce(tracedLifecycleRecords(dossierLifecycle(rng, { endAt: 2, number })));
      await world.waitForLedger({ REJECTED: 1, SYNCED: number - 1 }, 30_000);
    }
    const [calls] = await ctx.sql.query<{ n: string }>(
      `select count(*) n from "${world.syncSchema}".portal_exchange where operation = 'DongBoHoSoMC' and correlation_id like $1`,
      [`dossier:${bad.MaHoSo}:%`],
    );
    expect(Number(calls?.n)).toBe(1);
    const [row] = await ctx.sql.query<{ state: string; attempts: number }>(
      `select state, attempts from "${world.syncSchema}".sync_entity where entity_key = $1`,
      [bad.MaHoSo],
    );
    expect(row).toEqual({ state: 'REJECTED', attempts: 1 });
  });

  it('a wrong DVCQG password: the target is held (sync.health.v2 says why), no dossier is REJECTED, and all sync once the password is fixed', async () => {
    const world = await DossierWorld.create(ctx, 'badpass');
    const wrong = await world.instance('dossier-sync-badpass', {
      DVCQG_PASSWORD: 'not-the-password',
      DVCQG_HOLD_MS: '300',
      DVCQG_MAX_HOLD_MS: '1000',
    });
    await wrong.start();
    const rng = new Rng(303);
    const lives = Array.from({ length: 50 }, (_, i) => dossierLifecycle(rng, { number: i + 1 }));
    await world.produce(lives.flatMap(tracedLifecycleRecords));
    // Every dossier is in the ledger, waiting: a refused login is the target's problem, not theirs.
    await world.waitForLedger({ PENDING: 50 }, 60_000);
    await expectEventually(
      () => {
        const held = world.healthReports().filter((r) => r.hold !== null);
        expect(held.at(-1)).toEqual(
          expect.objectContaining({
            service: 'dossier-sync',
            instance: 'dossier-sync-badpass',
            target: 'dvcqg',
            hold: expect.objectContaining({ code: 'PORTAL_AUTH_FAILED' }) as unknown,
            backlog: expect.objectContaining({ pending: 50, rejected: 0 }) as unknown,
          }),
        );
      },
      { timeoutMs: 30_000 },
    );
    // Held, probing now and then: still nothing rejected, and the service stays ready.
    const probesBefore = await loginCalls(ctx, world);
    await expectEventually(
      async () => expect(await loginCalls(ctx, world)).toBeGreaterThan(probesBefore + 2),
      {
        timeoutMs: 30_000,
      },
    );
    expect(await world.ledgerStates()).toEqual({ PENDING: 50 });
    // A hold is not an attempt: no status says REJECTED, nor RETRYING.
    expect(
      world.syncStatuses().filter((s) => s.state === 'REJECTED' || s.state === 'RETRYING'),
    ).toEqual([]);
    expect((await fetch(await wrong.url('/health/ready'))).status).toBe(200);

    // The operator fixes the password and restarts the service.
    await wrong.stop();
    const fixed = await world.instance('dossier-sync-badpass');
    await fixed.start();
    await world.waitForLedger({ SYNCED: 50 }, 60_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });
    await expectEventually(
      () => {
        const last = world
          .healthReports()
          .filter((r) => r.instance === 'dossier-sync-badpass')
          .at(-1);
        expect(last).toEqual(
          expect.objectContaining({
            hold: null,
            backlog: { pending: 0, retrying: 0, rejected: 0 },
          }),
        );
      },
      { timeoutMs: 30_000 },
    );
  });

  it('PostgreSQL crashes (immediate shutdown) under load: nothing lost, nothing applied twice, the service recovers without a restart', async () => {
    const world = await DossierWorld.create(ctx, 'pgcrash');
    const service = await world.instance('dossier-sync-pgcrash');
    await service.start();
    const pid = service.pid;
    const rng = new Rng(2112);
    const lives = Array.from({ length: 600 }, (_, i) => dossierLifecycle(rng, { number: i + 1 }));
    await world.produce(lives.slice(0, 400).flatMap(tracedLifecycleRecords));
    await expectEventually(async () => expect(await syncedCount(world)).toBeGreaterThan(100), {
      timeoutMs: 120_000,
      intervalMs: 50,
    });
    // The ledger is mid-work (claims, pushes, outbox) when the database goes away.
    await new PostgresControl(ctx.stack.kind).crash();
    // More load while the service is finding its way back.
    await world.produce(lives.slice(400).flatMap(tracedLifecycleRecords));
    await world.waitForLedger({ SYNCED: lives.length }, 240_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });
    await world.waitForOutboxDrained();
    // Every dossier's last status is SYNCED, at its final sequence.
    const last = new Map<string, { state: string; sequence: number }>();
    for (const st of world.syncStatuses()) {
      const seen = last.get(st.key);
      if (!seen || st.sequence >= seen.sequence) last.set(st.key, st);
    }
    // A failure names each dossier's statuses as they arrived, v1 (id) and v2, to read the order.
    const arrivals = (code: string) =>
      [
        ...world
          .syncStatuses()
          .filter((st) => st.key === code)
          .map((st) => `${st.state}@${st.sequence} ${st.id}`),
        '| v2:',
        ...world
          .syncStatusesV2()
          .filter((st) => st.entity.key === code)
          .map((st) => `${st.state}@${st.sequence}`),
      ].join(', ');
    const notSynced = lives
      .filter((l) => last.get(l.code)?.state !== 'SYNCED')
      .map((l) => `${l.code}: ${arrivals(l.code)}`);
    expect(notSynced).toEqual([]);
    // The same process did it all, and it is ready again.
    expect(service.pid).toBe(pid);
    expect((await fetch(await service.url('/health/ready'))).status).toBe(200);
  });
});

/** Login calls dossier-sync made (its exchange records): one per probe of a held target. */
async function loginCalls(
  ctx: ReturnType<typeof useTestContext>,
  world: DossierWorld,
): Promise<number> {
  const [row] = await ctx.sql.query<{ n: string }>(
    `select count(*) n from "${world.syncSchema}".portal_exchange where operation = 'auth'`,
  );
  return Number(row?.n ?? 0);
}
