import type { EncodedRecord } from '@lienthong/contracts';
import { expectEventually } from './expect-eventually';
import { Rng } from './fixtures';
import { portalAdmin } from './portal-sim-process';
import { ReconcileDriver } from './reconcile-driver';
import type { SyncWorld } from './sync-world';
import type { TestContext } from './test-context';

/**
 * Entities per domain in the reconciliation e2e: 10,000 for the figure
 * (`RECONCILE_E2E_ENTITIES=10000`), 2,000 by default so that CI stays short.
 */
export const RECONCILE_E2E_ENTITIES = Number(process.env.RECONCILE_E2E_ENTITIES ?? 2000);

/** A test's time for one scenario of `RECONCILE_E2E_ENTITIES` entities. */
export const RECONCILE_E2E_TIMEOUT_MS = 600_000 + RECONCILE_E2E_ENTITIES * 60;

function shuffled<T>(rng: Rng, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
/** The portal's quota for this client, enforced by portal-sim and configured in the service. */
const QUOTA_PER_SECOND = 1000;

/** An entity of a scenario: its ledger key and the records that bring it to its current state. */
export interface ScenarioEntity {
  key: string;
  records: EncodedRecord[];
}

export interface ReconcileScenario<W extends SyncWorld, E extends ScenarioEntity> {
  /** The world the service runs in (opened by the caller: each domain has its own). */
  world: W;
  /** portal-sim's name of the portal API (faults, drift, request counts, write counters). */
  api: 'dvcqg' | 'civil-status' | 'land';
  domain: 'dossier' | 'civil-status' | 'land';
  /** The service's variable prefix of that portal (e.g. DVCQG_RATE_LIMIT_PER_SECOND). */
  prefix: string;
  entities: E[];
  /** Records that change these (clean, synced) entities while a run passes over them. */
  changes: (rng: Rng, entities: E[]) => EncodedRecord[];
  /**
   * The entities whose portal copy differs from what the ledger says it must hold: each key, with
   * what differs where the world can tell.
   */
  wrongAtPortal: (world: W, entities: E[]) => Promise<string[]>;
}

/**
 * One domain's reconciliation, end to end with real processes: N entities synced; the portal
 * alters 1% and loses 1% behind the hub's back; a dry run finds exactly those and writes nothing;
 * a repair run — while 100 clean entities change, and killed once mid-way — finds them again,
 * repairs them through the dispatcher and verifies them, resumes from its checkpoint without
 * checking a finished page again, never takes a changing entity for drift, and keeps to its
 * share of the portal's quota (no 429 storm) while pushes go on.
 */
export async function reconcileScenario<W extends SyncWorld, E extends ScenarioEntity>(
  ctx: TestContext,
  s: ReconcileScenario<W, E>,
): Promise<{ drifted: string[] }> {
  const N = s.entities.length;
  const { world } = s;
  const driver = await ReconcileDriver.open(ctx, world);
  const env = {
    ...driver.env,
    [`${s.prefix}_RATE_LIMIT_PER_SECOND`]: String(QUOTA_PER_SECOND),
    RECONCILE_RATE_PER_SECOND: '10000',
    RECONCILE_QUOTA_SHARE: '0.4',
    RECONCILE_PAGE_SIZE: '50',
    // Scheduled tiers off: this test drives runs by command (the tiers have their own test).
    RECONCILE_RECENT_EVERY_MS: '0',
    RECONCILE_OPEN_EVERY_MS: '0',
    RECONCILE_SWEEP_PERIOD_MS: '0',
  };
  const service = await world.instance(`${world.label}-a`, env);
  await service.start();
  await world.produce(s.entities.flatMap((e) => e.records));
  const settled = async () => {
    const states = await world.ledgerStates();
    return (states.SYNCED ?? 0) + (states.REJECTED ?? 0);
  };
  await expectEventually(async () => expect(await settled()).toBe(N), {
    timeoutMs: 300_000,
    intervalMs: 500,
  });
  const synced = (await world.ledgerStates()).SYNCED ?? 0;
  world.phase(`${synced} synced`);
  expect(synced).toBeGreaterThan(N * 0.95);
  // The portal's quota from now on: its own token bucket per client.
  await portalAdmin(world.sim, 'PUT', `/faults/${s.api}`, {
    rateLimit: { perSecond: QUOTA_PER_SECOND },
  });

  // The portal alters 1% and loses 1% of the synced entities.
  const syncedKeys = (
    await ctx.sql.query<{ entity_key: string }>(
      `select entity_key from "${world.syncSchema}".sync_entity where state = 'SYNCED' order by entity_key`,
    )
  ).map((r) => r.entity_key);
  const rng = new Rng(4242);
  const picked = shuffled(rng, syncedKeys).slice(0, N / 50);
  const altered = picked.slice(0, N / 100);
  const deleted = picked.slice(N / 100);
  const drift = async (keys: string[], mode: string) =>
    (
      (await portalAdmin(world.sim, 'POST', `/drift/${s.api}`, { keys, mode })) as {
        drifted: string[];
      }
    ).drifted;
  expect(await drift(altered, 'alter')).toHaveLength(altered.length);
  expect(await drift(deleted, 'delete')).toHaveLength(deleted.length);
  const drifted = new Set(picked);
  const writes = async () =>
    [...(await world.portalEffects(s.api)).values()].reduce(
      (n, e) => n + Object.values(e).reduce((m, x) => m + x.writes, 0),
      0,
    );
  const writesBefore = await writes();

  // A dry run: exactly the drifted entities, no false positive, nothing written anywhere.
  const dry = driver.command(s.domain, true);
  await driver.send(dry);
  const dryRun = await driver.finished(dry);
  expect(dryRun).toMatchObject({
    total: synced,
    checked: synced,
    matched: synced - drifted.size,
    missing: deleted.length,
    drifted: altered.length,
    in_flux: 0,
    repaired: 0,
  });
  world.phase('dry run finished');
  const dryFindings = await driver.findings(dryRun.id);
  expect([...dryFindings.keys()].sort()).toEqual([...drifted].sort());
  expect(deleted.every((k) => dryFindings.get(k) === 'MISSING')).toBe(true);
  expect(await writes()).toBe(writesBefore);
  expect((await world.ledgerStates()).SYNCED).toBe(synced);

  // The repair run: clean entities change while it runs, and its service is killed mid-way.
  const requestsBefore = (await portalAdmin(world.sim, 'GET', '/requests')) as Record<
    string,
    Record<string, number>
  >;
  const repair = driver.command(s.domain, false);
  await driver.send(repair);
  const checked = async () => (await driver.run(repair))?.checked ?? 0;
  await expectEventually(async () => expect(await checked()).toBeGreaterThan(synced * 0.2), {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  const clean = syncedKeys.filter((k) => !drifted.has(k));
  const cleanKeys = new Set(clean);
  const changing = shuffled(
    rng,
    s.entities.filter((e) => cleanKeys.has(e.key)),
  ).slice(0, 100);
  await world.produce(s.changes(rng, changing));
  await expectEventually(async () => expect(await checked()).toBeGreaterThan(synced * 0.45), {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  expect(await service.kill()).toBeNull();
  const atKill = await driver.run(repair);
  const killedAt = new Date();
  expect(atKill?.status).toBe('running');
  await service.start();
  world.phase('killed mid-run, restarted');
  const repaired = await driver.finished(repair, 240_000);
  world.phase('repair run finished');
  expect(repaired).toMatchObject({
    checked: synced,
    missing: deleted.length,
    drifted: altered.length,
    repaired: drifted.size,
  });
  // A changing entity is never taken for drift (checked again if it was in flux).
  const findings = await driver.findings(repaired.id);
  // Every finding verified: the repaired ones, and the ones that were in flux once they settled.
  expect(repaired.verified).toBe(findings.size);
  expect(
    changing
      .filter((e) => ['MISSING', 'DRIFT'].includes(findings.get(e.key) ?? ''))
      .map((e) => e.key),
  ).toEqual([]);
  expect(
    [...findings]
      .filter(([, v]) => v !== 'IN_FLUX')
      .map(([k]) => k)
      .sort(),
  ).toEqual([...drifted].sort());
  // Resumed from its checkpoint: nothing up to it was asked about again after the kill.
  const [rechecked] = await ctx.sql.query<{ n: number }>(
    `select count(*)::int n from "${world.syncSchema}".sync_entity e
     where e.entity_type || chr(1) || e.entity_key <= $1 and e.reconciled_at > $2
       and not exists (select 1 from "${world.syncSchema}".reconcile_finding f
         where f.run_id = $3 and f.entity_key = e.entity_key)`,
    [atKill?.cursor, killedAt, repaired.id],
  );
  expect(rechecked?.n).toBe(0);

  // Everything settles; the portal holds exactly what the ledger says.
  await expectEventually(async () => expect(await settled()).toBe(N), {
    timeoutMs: 120_000,
    intervalMs: 500,
  });
  expect(await s.wrongAtPortal(world, s.entities)).toEqual([]);
  // The run kept to its share of the quota: pushes went on, the portal hardly ever said 429.
  const requestsAfter = (await portalAdmin(world.sim, 'GET', '/requests')) as Record<
    string,
    Record<string, number>
  >;
  const during = (kind: string) =>
    (requestsAfter[s.api]?.[kind] ?? 0) - (requestsBefore[s.api]?.[kind] ?? 0);
  expect(during('pass')).toBeGreaterThan(0);
  expect(during('rate-limited')).toBeLessThanOrEqual(during('pass') * 0.01);

  // Published: each difference once per run (field names only), each repair once; the progress.
  await world.waitForOutboxDrained();
  await expectEventually(() => {
    const of = (state: string) =>
      world
        .syncStatusesV2()
        .filter((x) => x.state === state)
        .map((x) => x.entity.key)
        .sort();
    expect(of('DRIFT_DETECTED')).toEqual([...picked, ...picked].sort());
    expect(of('REPAIRED')).toEqual([...picked].sort());
    const last = driver.progressOf(repaired.id).at(-1);
    expect(last).toMatchObject({ status: 'finished', repaired: drifted.size });
  });
  expect(service.logs).toMatch(
    new RegExp(`reconciliation ${repaired.id} finished: ${synced} of ${synced} checked`),
  );
  return { drifted: picked };
}
