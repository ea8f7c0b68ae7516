import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import {
  BrokerControl,
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
    const service = await world.instance('dossier-sync-outage', { BREAKER_VOLUME_THRESHOLD: '5' });
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
      await sleep(500);
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
    await sleep(2_000);
    await broker.start();

    await world.waitForLedger({ SYNCED: lives.length }, 240_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });
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
    // Five seconds later the portal has still been asked to store it exactly once.
    await sleep(5_000);
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
});
