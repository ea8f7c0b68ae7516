import { randomBytes } from 'node:crypto';
import type { DossierProgressStep, EncodedRecord } from '@lienthong/contracts';
import { TOPICS } from '@lienthong/contracts';
import { toWireHeader, toWireStep } from '@lienthong/portal-clients';
import { fingerprint } from '@lienthong/sync-engine';
import { SyncWorld, lifecycleRecords } from '@lienthong/testing';
import type {
  DossierLifecycle,
  Effect,
  SyncServiceUnderTest,
  TestContext,
} from '@lienthong/testing';

/** A lifecycle's records, each with its own W3C trace (as a commune system that traces would send). */
export function tracedLifecycleRecords(life: DossierLifecycle): EncodedRecord[] {
  return lifecycleRecords(life, () => ({
    traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
  }));
}

export type { Effect, SyncStatusSeen } from '@lienthong/testing';

/** dossier-sync as the world runs it. */
export const DOSSIER_SYNC: SyncServiceUnderTest = {
  name: 'dossier-sync',
  entry: 'services/dossier-sync/dist/main.js',
  contractTopic: TOPICS.communeDossierEvents,
  portalEnv: (url) => ({
    DVCQG_BASE_URL: url,
    DVCQG_TIMEOUT_MS: '2000',
    DVCQG_BREAKER_RESET_TIMEOUT_MS: '2000',
  }),
};

/**
 * The world of a dossier e2e file (SyncWorld with dossier-sync), and views of what DVCQG holds.
 */
export class DossierWorld extends SyncWorld {
  static async create(
    ctx: TestContext,
    label: string,
    simEnv: Record<string, string> = {},
  ): Promise<DossierWorld> {
    const parts = await SyncWorld.setUp(ctx, label, DOSSIER_SYNC, simEnv);
    const world = new DossierWorld(ctx, DOSSIER_SYNC, label, ...parts);
    await world.listen();
    return world;
  }

  /** What DVCQG holds: header and steps (wire form) per MaHoSo. */
  async portalDossiers(): Promise<Map<string, { header: unknown; steps: unknown[] }>> {
    const headers = await this.ctx.sql.query<{ ma_ho_so: string; header: unknown }>(
      `select ma_ho_so, header from "${this.simSchema}".dvcqg_dossier`,
    );
    const steps = await this.ctx.sql.query<{ ma_ho_so: string; step: unknown }>(
      `select ma_ho_so, step from "${this.simSchema}".dvcqg_step order by id`,
    );
    const out = new Map<string, { header: unknown; steps: unknown[] }>();
    for (const h of headers) out.set(h.ma_ho_so, { header: h.header, steps: [] });
    for (const s of steps) out.get(s.ma_ho_so)?.steps.push(s.step);
    return out;
  }

  /** DVCQG's write counters: per dossier and operation (header, step), calls accepted and real changes. */
  async dvcqgEffects(): Promise<Map<string, { header?: Effect; step?: Effect }>> {
    return this.portalEffects('dvcqg');
  }

  /**
   * Steps the ledger sent again after an outcome it could not know (a timeout, a crash): DVCQG may
   * hold them twice, and the ledger says so (`sends > 1`). By dossier, in DVCQG's wire form.
   */
  async possiblyDuplicatedSteps(): Promise<Map<string, string[]>> {
    const rows = await this.ctx.sql.query<{ entity_key: string; payload: DossierProgressStep }>(
      `select entity_key, payload from "${this.syncSchema}".sync_entity_part where sends > 1`,
    );
    const out = new Map<string, string[]>();
    for (const r of rows)
      out.set(r.entity_key, [...(out.get(r.entity_key) ?? []), fingerprint(toWireStep(r.payload))]);
    return out;
  }
}

/** The header and steps a lifecycle must leave at DVCQG, in the portal's wire form (comparable fingerprints). */
export function expectedAtPortal(life: DossierLifecycle): { header: string; steps: string[] } {
  return {
    header: fingerprint(toWireHeader(life.final)),
    steps: life.steps.map((s) => fingerprint(toWireStep(s))),
  };
}

/**
 * How DVCQG's copy of each dossier differs from where its lifecycle ends: missing, header, or
 * steps (each once, in source order when `stepOrder`) — except a step the ledger itself flags as
 * possibly duplicated (sent again after an outcome it could not know: a timeout, a killed
 * worker), which may be there twice, as dvcqg.push-target.ts documents. Also counts the repeats
 * DVCQG really holds and the steps the ledger flagged.
 */
export async function portalDifferences(
  world: DossierWorld,
  lives: DossierLifecycle[],
  { stepOrder }: { stepOrder: boolean },
): Promise<{
  problems: Map<string, string>;
  held: Map<string, { header: unknown; steps: unknown[] }>;
  /** Per dossier, the second copies of flagged steps DVCQG holds. */
  repeats: Map<string, number>;
  /** Those second copies in all. */
  repeated: number;
  flagged: number;
}> {
  const held = await world.portalDossiers();
  const flaggedSteps = await world.possiblyDuplicatedSteps();
  const problems = new Map<string, string>();
  const repeats = new Map<string, number>();
  for (const life of lives) {
    const copy = held.get(life.code);
    const want = expectedAtPortal(life);
    if (!copy) {
      problems.set(life.code, 'missing');
      continue;
    }
    if (fingerprint(copy.header) !== want.header) problems.set(life.code, 'header differs');
    // A flagged step may appear a second time: keep its first copy only.
    const flagged = new Set(flaggedSteps.get(life.code) ?? []);
    const seen = new Set<string>();
    const got: string[] = [];
    for (const step of copy.steps.map((x) => fingerprint(x))) {
      if (flagged.has(step) && seen.has(step)) {
        repeats.set(life.code, (repeats.get(life.code) ?? 0) + 1);
        continue;
      }
      seen.add(step);
      got.push(step);
    }
    if (
      stepOrder
        ? got.join() !== want.steps.join()
        : [...got].sort().join() !== [...want.steps].sort().join()
    )
      problems.set(life.code, `steps ${got.length} held, ${want.steps.length} expected`);
  }
  const flagged = [...flaggedSteps.values()].reduce((n, list) => n + list.length, 0);
  const repeated = [...repeats.values()].reduce((n, k) => n + k, 0);
  return { problems, held, repeats, repeated, flagged };
}

/**
 * Every dossier at DVCQG exactly as its lifecycle ends (portalDifferences), nothing else there,
 * and one write effect per change. Returns how many repeats of flagged steps DVCQG really holds
 * (never more than the ledger flagged).
 */
export async function expectPortalHoldsExactly(
  world: DossierWorld,
  lives: DossierLifecycle[],
  { stepOrder }: { stepOrder: boolean },
): Promise<{ flagged: number; repeated: number }> {
  const {
    problems: found,
    held,
    repeats,
    repeated,
    flagged,
  } = await portalDifferences(world, lives, { stepOrder });
  const effects = await world.dvcqgEffects();
  expect(held.size).toBe(lives.length);
  const problems = [...found].map(([code, what]) => `${code}: ${what}`);
  for (const life of lives) {
    if (!held.has(life.code)) continue;
    // One effect per change: every step write appended a step that belongs there; a second copy
    // only of a step the ledger flagged.
    const e = effects.get(life.code);
    const extra = repeats.get(life.code) ?? 0;
    if (e?.step?.writes !== life.steps.length + extra || e.step.changes !== e.step.writes)
      problems.push(`${life.code}: step writes ${e?.step?.writes}, expected ${life.steps.length}`);
    const snapshots = life.events.filter((x) => x.kind === 'upsert').length;
    if (!e?.header || e.header.changes < 1 || e.header.changes > snapshots)
      problems.push(`${life.code}: header changes ${e?.header?.changes} not in 1..${snapshots}`);
  }
  expect(problems).toEqual([]);
  expect(repeated).toBeLessThanOrEqual(flagged);
  return { flagged, repeated };
}
