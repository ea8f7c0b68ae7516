import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import type { BirthRegistered } from '@lienthong/contracts';
import { fingerprint } from '@lienthong/sync-engine';
import { Rng, SyncWorld, expectEventually, useTestContext } from '@lienthong/testing';
import {
  CIVIL_STATUS_SYNC,
  answerSupplements,
  REGISTRY_E2E_TIMEOUT_MS,
  outageCrashesAndBrokerRestart,
  civilEntities,
  expectedCivilRecord,
  inversions,
  laterBy,
  twiceShuffled,
} from './registries-harness';
import type { CivilEntity } from './registries-harness';

interface RegistryRow {
  ma_dinh_danh_ho_so: string;
  payload: Record<string, unknown>;
  outcome: string;
  result: { soDinhDanh?: string; soDangKy?: string } | null;
}

describe('civil-status-sync end to end: Kafka → ledger → civil-status registry (portal-sim), real processes', () => {
  const ctx = useTestContext('civil_e2e');

  it(
    '2,000 registrations, every event twice and shuffled, the invalid corpus, two instances, a 30 s registry outage, SIGKILL twice and a broker restart; results late, out of order or never; supplements answered: every registration ends at its latest state, one effect per change, every result back to its commune',
    async () => {
      const world = await SyncWorld.open(ctx, CIVIL_STATUS_SYNC, 'registrations', {
        // Results take 1–4 s each (out of order); 3% ask for a supplement; 1% never answer.
        PORTAL_SIM_CIVIL_RESULT_DELAY_MS: '2000',
        PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO: '0.03',
        PORTAL_SIM_CIVIL_NO_RESULT_RATIO: '0.01',
      });
      const rng = new Rng(2026);
      const entities = civilEntities(rng, 2000);
      const byKey = new Map(entities.map((e) => [e.key, e]));
      const gcsPairs = entities.filter(
        (e) =>
          e.type === EVENT_TYPES.BirthRegistered &&
          entities.some(
            (o) =>
              o !== e &&
              o.type === EVENT_TYPES.BirthRegistered &&
              (o.latest as BirthRegistered).maGCS === (e.latest as BirthRegistered).maGCS,
          ),
      );
      expect(gcsPairs.length).toBeGreaterThanOrEqual(4);
      const { answered } = answerSupplements(ctx, world, byKey, (r) => ({
        ...r,
        ngayDangKy: laterBy(r.ngayDangKy as string, 60_000),
      }));

      const records = twiceShuffled(
        rng,
        entities.flatMap((e) => e.records),
        TOPICS.communeCivilStatusEvents,
      );
      const invalid = records.length - 2 * entities.reduce((n, e) => n + e.records.length, 0);
      expect(invalid).toBeGreaterThan(3);
      const a = await world.instance('civil-a');
      const b = await world.instance('civil-b');
      await Promise.all([a.start(), b.start()]);

      const progressed = async () => {
        const s = await world.ledgerStates();
        return (s.SYNCED ?? 0) + (s.AWAITING_RESULT ?? 0) + (s.REJECTED ?? 0);
      };
      // A 30-second outage of the registry under load: nothing is lost, the breaker holds pushes.
      await outageCrashesAndBrokerRestart(ctx, world, records, 'civil-status', progressed, [
        [a, 900],
        [b, 1300],
      ]);

      // The end: what the registry decided, from its own tables.
      const registry = async () =>
        ctx.sql.query<RegistryRow>(
          `select ma_dinh_danh_ho_so, payload, outcome, result from "${world.simSchema}".civil_registration`,
        );
      let rows: RegistryRow[] = [];
      await expectEventually(
        async () => {
          rows = await registry();
          const never = rows.filter((r) => r.outcome === 'never').length;
          const refused = rows.filter((r) => r.outcome === 'refused').length;
          expect(rows).toHaveLength(entities.length);
          expect(await world.ledgerStates()).toEqual({
            SYNCED: entities.length - never - refused,
            REJECTED: refused,
            ...(never > 0 ? { AWAITING_RESULT: never } : {}),
          });
        },
        { timeoutMs: 300_000, intervalMs: 1000 },
      );
      await world.waitForOutboxDrained();
      world.phase('every registration decided, outbox drained');

      // The registry holds every registration at its latest state (supplements and amendments in).
      const held = new Map(rows.map((r) => [r.ma_dinh_danh_ho_so, r]));
      const wrong = entities.filter((e) => {
        const row = held.get(e.key);
        return !row || fingerprint(row.payload) !== expectedCivilRecord(e);
      });
      expect(wrong.map((e) => e.key)).toEqual([]);

      // One effect per change: each submission that changed the record, each amendment once.
      const effects = await world.portalEffects('civil-status');
      const badEffects = entities.filter((e: CivilEntity) => {
        const eff = effects.get(e.key);
        const submits = answered.has(e.key) ? 2 : 1;
        return (
          eff?.submit?.changes !== submits ||
          (eff.amend?.changes ?? 0) !==
            (held.get(e.key)?.outcome === 'refused' ? 0 : e.amendments.length)
        );
      });
      expect(badEffects.map((e) => [e.key, effects.get(e.key)])).toEqual([]);
      expect(answered.size).toBeGreaterThan(10);

      // Exactly one of each pair of births on one hospital certificate is refused, with the reason.
      const rejected = world.syncStatusesV2().filter((s) => s.state === 'REJECTED');
      expect(new Set(rejected.map((s) => s.entity.key)).size).toBe(
        rows.filter((r) => r.outcome === 'refused').length,
      );
      expect(rejected.length).toBeGreaterThanOrEqual(gcsPairs.length / 2);
      expect(rejected[0]?.error?.message).toContain('Giấy chứng sinh đã được sử dụng');

      // Every result reaches its commune: a SYNCED status per registration with the register entry
      // and a reference; the newborn's personal ID stays in the ledger.
      const ledger = await ctx.sql.query<{ entity_key: string; result: { soDinhDanh?: string } }>(
        `select entity_key, result from "${world.syncSchema}".sync_entity where state = 'SYNCED'`,
      );
      const lastSynced = () =>
        new Map(
          world
            .syncStatusesV2()
            .filter((s) => s.state === 'SYNCED')
            .map((s) => [s.entity.key, s]),
        );
      await expectEventually(
        () => {
          const synced = lastSynced();
          const missing = ledger.filter(({ entity_key, result }) => {
            const s = synced.get(entity_key);
            const registryResult = held.get(entity_key)?.result;
            return (
              !s?.receipt?.result?.resultRef ||
              s.receipt.result.soDangKy !== registryResult?.soDangKy ||
              s.entity.communeCode !== byKey.get(entity_key)?.communeCode ||
              result.soDinhDanh !== registryResult?.soDinhDanh
            );
          });
          expect(missing.map((m) => m.entity_key)).toEqual([]);
        },
        { timeoutMs: 30_000 },
      );
      const statuses = world.syncStatusesV2();
      const synced = lastSynced();
      const births = ledger.filter(
        (r) => byKey.get(r.entity_key)?.type === EVENT_TYPES.BirthRegistered,
      );
      expect(births.every((r) => /^\d{12}$/.test(r.result.soDinhDanh ?? ''))).toBe(true);
      expect(JSON.stringify(statuses)).not.toContain(births[0]?.result.soDinhDanh as string);

      // Results came back in another order than the submissions went out.
      const awaited = statuses.filter(
        (s) => s.state === 'AWAITING_RESULT' && s.awaiting?.polls === 0,
      );
      const submittedOrder = [...new Set(awaited.map((s) => s.entity.key))];
      const resultOrder = [...synced.keys()].filter((k) => submittedOrder.includes(k));
      expect(inversions(resultOrder, submittedOrder)).toBeGreaterThan(100);

      // A result that never comes stays visible: still awaited, asked again and again.
      const never = rows.filter((r) => r.outcome === 'never').map((r) => r.ma_dinh_danh_ho_so);
      if (never.length > 0) {
        const waits = await ctx.sql.query<{ polls: number }>(
          `select polls from "${world.syncSchema}".sync_entity where entity_key = any($1)`,
          [never],
        );
        expect(waits.every((w) => w.polls >= 2)).toBe(true);
        const oldest = await world.metric(a, 'lienthong_sync_oldest_awaiting_seconds');
        expect(Number(oldest[0]?.split(' ').pop())).toBeGreaterThan(0);
      }

      // Every invalid event in the DLQ, with its reason.
      await expectEventually(
        () => expect(world.dlqConsumer.messages.length).toBeGreaterThanOrEqual(invalid),
        { timeoutMs: 30_000 },
      );
      for (const m of world.dlqConsumer.messages) {
        expect(m.headers.dlq_error_code).toBeTruthy();
        expect(m.headers.dlq_error_message).toBeTruthy();
      }
    },
    REGISTRY_E2E_TIMEOUT_MS,
  );
});
