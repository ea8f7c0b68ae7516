import { EVENT_TYPES } from '@lienthong/contracts';
import { fingerprint } from '@lienthong/sync-engine';
import {
  RECONCILE_E2E_ENTITIES,
  RECONCILE_E2E_TIMEOUT_MS,
  Rng,
  SyncWorld,
  landStatusChanged,
  reconcileScenario,
  registrationAmended,
  toRecord,
  useTestContext,
} from '@lienthong/testing';
import {
  CIVIL_STATUS_SYNC,
  LAND_SYNC,
  civilEntities,
  expectedCivilRecord,
  expectedLandRecord,
  landEntities,
} from './registries-harness';

const N = RECONCILE_E2E_ENTITIES;

describe('reconciliation of the registries, real processes', () => {
  const ctx = useTestContext('registries_reconcile');

  it(
    `civil status: ${N} registrations, 2% altered or lost at the registry; found, none falsely, repaired and verified`,
    async () => {
      const world = await SyncWorld.open(ctx, CIVIL_STATUS_SYNC, 'civilrec', {
        PORTAL_SIM_CIVIL_RESULT_DELAY_MS: '300',
        PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO: '0',
        PORTAL_SIM_CIVIL_NO_RESULT_RATIO: '0',
      });
      await reconcileScenario(ctx, {
        world,
        api: 'civil-status',
        domain: 'civil-status',
        prefix: 'CIVIL',
        entities: civilEntities(new Rng(77), N),
        // Births corrected (CaiChinhDKHT) while the run passes.
        changes: (rng, changing) =>
          changing
            .filter((e) => e.type === EVENT_TYPES.BirthRegistered)
            .map((e) => {
              const a = registrationAmended(rng, {
                maDinhDanhHoSo: e.key,
                maTinh: e.latest.maTinh,
                maXa: e.latest.maXa,
                loaiDangKy: 'KS',
              });
              e.amendments.push(a);
              e.sequence += 1;
              return toRecord({
                name: '',
                type: EVENT_TYPES.RegistrationAmended,
                topic: '',
                data: a,
                communeCode: e.communeCode,
                sequence: e.sequence,
              });
            }),
        wrongAtPortal: async (world, all) => {
          const rows = await ctx.sql.query<{
            key: string;
            payload: Record<string, unknown> | null;
            same_result: boolean;
          }>(
            `select e.entity_key as key, r.payload, e.result = r.result as same_result
           from "${world.syncSchema}".sync_entity e
             left join "${world.simSchema}".civil_registration r on r.ma_dinh_danh_ho_so = e.entity_key
           where e.state = 'SYNCED'`,
          );
          const byKey = new Map(all.map((e) => [e.key, e]));
          return rows
            .filter((r) => {
              const e = byKey.get(r.key);
              return (
                !e ||
                !r.payload ||
                !r.same_result ||
                fingerprint(r.payload) !== expectedCivilRecord(e)
              );
            })
            .map((r) => r.key);
        },
      });
    },
    RECONCILE_E2E_TIMEOUT_MS,
  );

  it(
    `land: ${N} dossiers, 2% altered or lost at the land registry; found, none falsely, repaired and verified`,
    async () => {
      const world = await SyncWorld.open(ctx, LAND_SYNC, 'landrec', {
        PORTAL_SIM_LAND_STEP_MS: '200',
        PORTAL_SIM_LAND_SUPPLEMENT_RATIO: '0',
      });
      await reconcileScenario(ctx, {
        world,
        api: 'land',
        domain: 'land',
        prefix: 'LAND',
        entities: landEntities(new Rng(78), N),
        // The commune's own progress records (kept in the ledger) while the run passes.
        changes: (rng, changing) =>
          changing.map((e) => {
            e.sequence += 1;
            return toRecord({
              name: '',
              type: EVENT_TYPES.LandStatusChanged,
              topic: '',
              data: landStatusChanged(rng, {
                MaHoSoMotCua: e.key,
                ThoiDiem: e.latest.NgayHenTra,
              }),
              communeCode: e.communeCode,
              sequence: e.sequence,
            });
          }),
        wrongAtPortal: async (world, all) => {
          const held = await ctx.sql.query<{
            key: string;
            payload: Record<string, unknown>;
            status: string;
          }>(
            `select ma_ho_so_mot_cua as key, payload, status from "${world.simSchema}".land_dossier`,
          );
          const byKey = new Map(held.map((h) => [h.key, h]));
          const syncedKeys = new Set(
            (
              await ctx.sql.query<{ entity_key: string }>(
                `select entity_key from "${world.syncSchema}".sync_entity where state = 'SYNCED'`,
              )
            ).map((r) => r.entity_key),
          );
          return all
            .filter((e) => syncedKeys.has(e.key))
            .filter((e) => {
              const h = byKey.get(e.key);
              return (
                !h ||
                h.status !== 'FINISHED' ||
                fingerprint(h.payload) !== expectedLandRecord(e.latest)
              );
            })
            .map((e) => e.key);
        },
      });
    },
    RECONCILE_E2E_TIMEOUT_MS,
  );
});
