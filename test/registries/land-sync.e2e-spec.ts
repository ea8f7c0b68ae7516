import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import type { LandRegistrationReceived } from '@lienthong/contracts';
import { fingerprint } from '@lienthong/sync-engine';
import {
  Rng,
  SyncWorld,
  expectEventually,
  freePort,
  landRegistrationReceived,
  toRecord,
  useTestContext,
} from '@lienthong/testing';
import {
  LAND_SYNC,
  answerSupplements,
  REGISTRY_E2E_TIMEOUT_MS,
  outageCrashesAndBrokerRestart,
  expectedLandRecord,
  landEntities,
  laterBy,
  twiceShuffled,
} from './registries-harness';

interface RegistryRow {
  ma_ho_so_mot_cua: string;
  payload: Record<string, unknown>;
  status: string;
  tax_notice: { SoThongBaoThue: string } | null;
}

const DAY = 86_400_000;

describe('land-sync end to end: Kafka → ledger → land registry (portal-sim) and its callbacks, real processes', () => {
  const ctx = useTestContext('land_e2e');

  it(
    '2,000 land dossiers, every event twice and shuffled, the invalid corpus, two instances; callbacks lost, repeated and reordered; supplements answered; a 30 s registry outage, SIGKILL twice and a broker restart; corrections after the end refused: every dossier followed to the end, one effect per change, every tax notice back to its commune',
    async () => {
      const callbackPort = await freePort();
      const world = await SyncWorld.open(ctx, LAND_SYNC, 'dossiers', {
        PORTAL_SIM_LAND_STEP_MS: '1000',
        PORTAL_SIM_LAND_SUPPLEMENT_RATIO: '0.03',
        PORTAL_SIM_LAND_CALLBACK_URL: `http://127.0.0.1:${callbackPort}/land/callbacks`,
        PORTAL_SIM_LAND_CALLBACK_LOSS_RATIO: '0.1',
        PORTAL_SIM_LAND_CALLBACK_DUPLICATE_RATIO: '0.2',
        PORTAL_SIM_LAND_CALLBACK_JITTER_MS: '1500',
      });
      const rng = new Rng(2027);
      const entities = landEntities(rng, 2000);
      const byKey = new Map(entities.map((e) => [e.key, e]));
      const { answered } = answerSupplements(ctx, world, byKey, (d) => ({
        ...d,
        NgayHenTra: laterBy(d.NgayHenTra, DAY),
      }));
      const records = twiceShuffled(
        rng,
        entities.flatMap((e) => e.records),
        TOPICS.communeLandEvents,
      );
      const invalid = records.length - 2 * entities.length;
      expect(invalid).toBeGreaterThan(0);

      // The registry calls back instance A (behind a fixed address, as a load balancer would be).
      const a = await world.instance('land-a', { PORT: String(callbackPort) });
      const b = await world.instance('land-b');
      await Promise.all([a.start(), b.start()]);

      const progressed = async () => {
        const s = await world.ledgerStates();
        return (s.SYNCED ?? 0) + (s.AWAITING_RESULT ?? 0) + (s.SUPPLEMENT_REQUESTED ?? 0);
      };
      await outageCrashesAndBrokerRestart(ctx, world, records, 'land', progressed, [
        [a, 900],
        [b, 1400],
      ]);

      await world.waitForLedger({ SYNCED: entities.length }, 300_000);
      world.phase(`${entities.length} synced`);

      // A correction after the registry finished: refused with its reason, the registry unchanged.
      const late = entities.slice(0, 5);
      const before = new Map(late.map((e) => [e.key, expectedLandRecord(e.latest)]));
      await world.produce(
        late.map((e) => {
          e.sequence += 1;
          const corrected: LandRegistrationReceived = {
            ...e.latest,
            NgayHenTra: laterBy(e.latest.NgayHenTra, 2 * DAY),
          };
          return toRecord({
            name: '',
            type: EVENT_TYPES.LandRegistrationReceived,
            topic: '',
            data: corrected,
            communeCode: e.communeCode,
            sequence: e.sequence,
          });
        }),
      );
      // Another dossier under a receipt number the registry already knows: refused at ingest (the
      // registry calls back by that number alone), so it never reaches the ledger or the registry.
      const holder = entities[10] as (typeof entities)[number];
      let twin: LandRegistrationReceived;
      do twin = landRegistrationReceived(rng, { SoBienNhan: holder.latest.SoBienNhan });
      while (byKey.has(twin.MaHoSoMotCua));
      await world.produce([
        toRecord({
          name: '',
          type: EVENT_TYPES.LandRegistrationReceived,
          topic: '',
          data: twin,
          communeCode: twin.XaId,
          sequence: 1,
        }),
      ]);
      await world.waitForLedger(
        { SYNCED: entities.length - late.length, REJECTED: late.length },
        60_000,
      );
      await world.waitForOutboxDrained();
      world.phase('late corrections refused, outbox drained');

      // The registry followed every dossier to the end, at its latest accepted state.
      const rows = await ctx.sql.query<RegistryRow>(
        `select ma_ho_so_mot_cua, payload, status, tax_notice from "${world.simSchema}".land_dossier`,
      );
      const held = new Map(rows.map((r) => [r.ma_ho_so_mot_cua, r]));
      const wrong = entities.filter((e) => {
        const row = held.get(e.key);
        const want = before.get(e.key) ?? expectedLandRecord(e.latest);
        return row?.status !== 'FINISHED' || fingerprint(row.payload) !== want;
      });
      expect(wrong.map((e) => e.key)).toEqual([]);

      // One effect per change: the dossier, and its supplement when the registry asked for one.
      const effects = await world.portalEffects('land');
      const badEffects = entities.filter(
        (e) => effects.get(e.key)?.receive?.changes !== (answered.has(e.key) ? 2 : 1),
      );
      expect(badEffects.map((e) => [e.key, effects.get(e.key)])).toEqual([]);
      expect(answered.size).toBeGreaterThan(10);

      // The callbacks really were lost, repeated and retried.
      const [callbacks] = await ctx.sql.query<{ lost: number; repeated: number; retried: number }>(
        `select count(*) filter (where dropped and attempts = 0)::int lost,
         (select count(*)::int from (select body from "${world.simSchema}".land_callback
            group by body having count(*) > 1) d) repeated,
         count(*) filter (where delivered_at is not null and attempts > 1)::int retried
       from "${world.simSchema}".land_callback`,
      );
      expect(callbacks?.lost).toBeGreaterThan(100);
      expect(callbacks?.repeated).toBeGreaterThan(100);
      expect(callbacks?.retried).toBeGreaterThan(0);

      // Every tax notice reaches its commune (its number, never the payer), every end a SYNCED.
      await expectEventually(
        () => {
          const statuses = world.syncStatusesV2();
          const notices = new Map<string, string>();
          for (const s of statuses)
            if (s.taxNotice) notices.set(s.entity.key, s.taxNotice.reference);
          const synced = new Set(
            statuses.filter((s) => s.state === 'SYNCED').map((s) => s.entity.key),
          );
          const missing = entities.filter(
            (e) =>
              !synced.has(e.key) ||
              notices.get(e.key) !== held.get(e.key)?.tax_notice?.SoThongBaoThue,
          );
          expect(missing.map((e) => e.key)).toEqual([]);
        },
        { timeoutMs: 30_000 },
      );
      const rejected = world.syncStatusesV2().filter((s) => s.state === 'REJECTED');
      expect(rejected.map((s) => s.entity.key).sort()).toEqual(late.map((e) => e.key).sort());
      expect(rejected[0]?.error?.message).toContain('Hồ sơ đã kết thúc');

      await expectEventually(
        () => expect(world.dlqConsumer.messages.length).toBeGreaterThanOrEqual(invalid + 1),
        { timeoutMs: 30_000 },
      );
      const conflicts = world.dlqConsumer.messages.filter(
        (m) => m.headers.dlq_error_code === 'REFERENCE_CONFLICT',
      );
      expect(conflicts.map((m) => [m.key, m.headers.dlq_field, m.headers.dlq_rule])).toEqual([
        [twin.MaHoSoMotCua, 'SoBienNhan', 'unique-reference'],
      ]);
      expect(conflicts[0]?.headers.dlq_error_message).toContain(holder.key);
      expect(held.has(twin.MaHoSoMotCua)).toBe(false);
      const [inLedger] = await ctx.sql.query<{ n: number }>(
        `select count(*)::int n from "${world.syncSchema}".sync_entity where entity_key = $1`,
        [twin.MaHoSoMotCua],
      );
      expect(inLedger?.n).toBe(0);
    },
    REGISTRY_E2E_TIMEOUT_MS,
  );
});
