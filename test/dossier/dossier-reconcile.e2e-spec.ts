import { fingerprint } from '@lienthong/sync-engine';
import {
  ReconcileDriver,
  Rng,
  dossierLifecycle,
  expectEventually,
  portalAdmin,
  useTestContext,
} from '@lienthong/testing';
import { DossierWorld, expectedAtPortal, tracedLifecycleRecords } from './dossier-harness';

describe('reconciliation of dossiers with DVCQG, real processes', () => {
  const ctx = useTestContext('dossier_reconcile');

  it('an operator command finds every dossier DVCQG lost or changed (a dry run repairs nothing), then repairs them through the dispatcher and verifies', async () => {
    const world = await DossierWorld.create(ctx, 'reconcile');
    const driver = await ReconcileDriver.open(ctx, 'reconcile', world.syncSchema);
    const service = await world.instance('dossier-sync-reconcile', {
      ...driver.env,
      // The budget (all runs together) above the commands' 500/s; the scheduled tiers off: this
      // test drives its runs by command, and a scheduled repair run would find the drift first.
      RECONCILE_RATE_PER_SECOND: '1000',
      RECONCILE_RECENT_EVERY_MS: '0',
      RECONCILE_OPEN_EVERY_MS: '0',
      RECONCILE_SWEEP_PERIOD_MS: '0',
    });
    await service.start();
    const rng = new Rng(404);
    const lives = Array.from({ length: 300 }, (_, i) => dossierLifecycle(rng, { number: i + 1 }));
    await world.produce(lives.flatMap(tracedLifecycleRecords));
    await world.waitForLedger({ SYNCED: lives.length }, 120_000);

    // DVCQG changes four dossiers and loses three behind our back.
    const altered = lives.slice(10, 14).map((l) => l.code);
    const deleted = lives.slice(20, 23).map((l) => l.code);
    await portalAdmin(world.sim, 'POST', '/drift/dvcqg', { keys: altered, mode: 'alter' });
    await portalAdmin(world.sim, 'POST', '/drift/dvcqg', { keys: deleted, mode: 'delete' });
    const writes = async () =>
      [...(await world.dvcqgEffects()).values()].reduce(
        (n, e) => n + (e.header?.writes ?? 0) + (e.step?.writes ?? 0),
        0,
      );
    const writesBefore = await writes();

    const command = (dryRun: boolean) => driver.command('dossier', dryRun, { ratePerSecond: 500 });
    const run = async (c: ReturnType<typeof command>) => {
      await driver.send(c);
      return driver.finished(c, 120_000);
    };

    // A dry run reports the same differences and changes nothing at DVCQG.
    const dry = await run(command(true));
    expect(dry).toMatchObject({
      total: 300,
      checked: 300,
      matched: 293,
      missing: 3,
      drifted: 4,
      repaired: 0,
    });
    expect(await writes()).toBe(writesBefore);
    expect(await world.ledgerStates()).toEqual({ SYNCED: 300 });

    // The repair run: found again, pushed again by the dispatcher, verified.
    const repair = await run(command(false));
    expect(repair).toMatchObject({
      checked: 300,
      missing: 3,
      drifted: 4,
      repaired: 7,
      verified: 7,
    });
    await world.waitForLedger({ SYNCED: 300 }, 60_000);
    const portal = await world.portalDossiers();
    const wrong = lives.filter((l) => {
      const held = portal.get(l.code);
      const want = expectedAtPortal(l);
      return (
        !held ||
        fingerprint(held.header) !== want.header ||
        held.steps.map((s) => fingerprint(s)).join() !== want.steps.join()
      );
    });
    expect(wrong.map((l) => l.code)).toEqual([]);

    // Each difference published once per run (field names only), each repair once.
    await world.waitForOutboxDrained();
    await expectEventually(() => {
      const seen = world.syncStatuses();
      const of = (state: string) =>
        seen
          .filter((s) => s.state === state)
          .map((s) => s.key)
          .sort();
      expect(of('DRIFT_DETECTED')).toEqual([...altered, ...deleted, ...altered, ...deleted].sort());
      expect(of('REPAIRED')).toEqual([...altered, ...deleted].sort());
    });
    // The service says what it did.
    expect(service.logs).toContain('reconciliation requested');
    expect(service.logs).toMatch(
      /reconciliation [0-9a-f-]{36} finished: 300 of 300 checked, 3 missing and 4 drifted/,
    );
  });
});
