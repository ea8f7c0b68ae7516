import type { EncodedRecord } from '@lienthong/contracts';
import {
  RECONCILE_E2E_ENTITIES,
  RECONCILE_E2E_TIMEOUT_MS,
  Rng,
  dossierLifecycle,
  expectEventually,
  reconcileScenario,
  useTestContext,
} from '@lienthong/testing';
import type { DossierLifecycle, LifecycleOptions } from '@lienthong/testing';
import { DossierWorld, portalDifferences, tracedLifecycleRecords } from './dossier-harness';

const N = RECONCILE_E2E_ENTITIES;

/** A dossier of the scenario: its lifecycle so far, and how to draw the rest of it. */
interface DossierEntity {
  key: string;
  records: EncodedRecord[];
  life: DossierLifecycle;
  seed: number;
  options: LifecycleOptions;
}

/** N dossiers in processing (received → being processed, some with a supplement), all distinct. */
function dossiers(n: number): DossierEntity[] {
  return Array.from({ length: n }, (_, i) => {
    const seed = 10_000 + i;
    const options: LifecycleOptions = {
      number: (i % 9000) + 1,
      submittedOn: `2025-07-${String(1 + Math.floor(i / 9000)).padStart(2, '0')}`,
    };
    const life = dossierLifecycle(new Rng(seed), { ...options, endAt: 4 });
    return { key: life.code, records: tracedLifecycleRecords(life), life, seed, options };
  });
}

/**
 * The next part of a dossier's life (the same draw, carried on to "processed", 9): the records
 * its commune system sends for it. The entity now ends there.
 */
function carryOn(e: DossierEntity): EncodedRecord[] {
  const next = dossierLifecycle(new Rng(e.seed), { ...e.options, endAt: 9 });
  const done = e.life.events.length;
  expect(next.events.slice(0, done).map((x) => x.data)).toEqual(e.life.events.map((x) => x.data));
  const records = tracedLifecycleRecords(next).slice(done);
  e.life = next;
  return records;
}

describe('reconciliation of dossiers with DVCQG, real processes', () => {
  const ctx = useTestContext('dossier_reconcile');

  it(
    `${N} dossiers, 2% altered or lost at DVCQG; found, none falsely, repaired (header and steps) and verified`,
    async () => {
      const world = await DossierWorld.create(ctx, 'reconcile');
      const { drifted } = await reconcileScenario(ctx, {
        world,
        api: 'dvcqg',
        domain: 'dossier',
        prefix: 'DVCQG',
        entities: dossiers(N),
        changes: (_rng, changing) => changing.flatMap(carryOn),
        // A step sent again after the kill (its outcome unknown) may be there twice: the ledger
        // flags it, and portalDifferences allows exactly that.
        wrongAtPortal: async (w, all) => {
          const { problems, repeated, flagged } = await portalDifferences(
            w,
            all.map((e) => e.life),
            { stepOrder: true },
          );
          process.stderr.write(
            `[reconcile] steps DVCQG holds twice (sent again after the kill): ${repeated}, the ledger flagged ${flagged}\n`,
          );
          return [...problems].map(([code, what]) => `${code}: ${what}`);
        },
      });
      // dossier-sync's first status contract (v1) says the same as v2: each difference once per
      // run (dry and repair), each repair once.
      await expectEventually(() => {
        const of = (state: string) =>
          world
            .syncStatuses()
            .filter((s) => s.state === state)
            .map((s) => s.key)
            .sort();
        expect(of('DRIFT_DETECTED')).toEqual([...drifted, ...drifted].sort());
        expect(of('REPAIRED')).toEqual([...drifted].sort());
      });
    },
    RECONCILE_E2E_TIMEOUT_MS,
  );
});
