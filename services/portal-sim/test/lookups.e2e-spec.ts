import { Client } from 'pg';
import { ServiceProcess, testStack } from '@lienthong/testing';
import { CIVIL_LOOKUPS } from '../src/modules/civil-status/civil-status.service';
import { DVCQG_APPEND_STEPS } from '../src/modules/dvcqg/dvcqg.store';
import { LAND_DUE } from '../src/modules/land/land.service';

const SCHEMA = 'portal_sim_lookups_e2e';
const ROWS = 20_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** Every table the plan reads whole. */
function seqScans(node: PlanNode): string[] {
  const own = node['Node Type'] === 'Seq Scan' ? [node['Relation Name'] ?? '?'] : [];
  return [...own, ...(node.Plans ?? []).flatMap(seqScans)];
}

/**
 * The simulated registries must never be what limits a benchmark: their lookups on tables that
 * grow with every registration (anything but a primary key) must use an index, not read the
 * table. Checked on the schema the service's own migrations made, filled with ROWS rows per table.
 */
describe('portal-sim: its lookups on growing tables use an index', () => {
  const db = new Client({ connectionString: testStack().databaseUrl });

  beforeAll(async () => {
    await db.connect();
    await db.query(`drop schema if exists ${SCHEMA} cascade`);
    // Its migrations run at boot: the schema is exactly the service's.
    const service = new ServiceProcess({
      entry: 'services/portal-sim/dist/main.js',
      env: { DATABASE_URL: testStack().databaseUrl, PORTAL_SIM_SCHEMA: SCHEMA },
    });
    await service.start();
    await service.stop();
    await db.query(`set search_path to ${SCHEMA}`);
    await db.query(
      `insert into civil_registration (ma_dinh_danh_ho_so, module, ma_tinh, payload, ready_at, outcome)
       select 'R' || n, (array['LTKS', 'LTKT', 'LTKH'])[1 + n % 3], '01',
              jsonb_build_object('maGCS', 'GCS' || n, 'nksHoTen', 'Nguyễn Văn ' || n), now(),
              case when n % 10 = 0 then 'refused' else 'accepted' end
       from generate_series(1, $1) n`,
      [ROWS],
    );
    await db.query(
      `insert into civil_amendment (ma_yeu_cau, ma_ho_so, data)
       select 'A' || n, 'R' || (n % ($1 / 2)), '{}'::jsonb from generate_series(1, $1) n`,
      [ROWS],
    );
    // Most dossiers finished (no next stage), a few with a stage still to come.
    await db.query(
      `insert into land_dossier (ma_ho_so_mot_cua, payload, status, history, next_transition_at, received)
       select 'L' || n, '{}'::jsonb, 'FINISHED', '[]'::jsonb,
              case when n % 100 = 0 then now() + make_interval(secs => n) end, '{}'::jsonb
       from generate_series(1, $1) n`,
      [ROWS],
    );
    await db.query('analyze civil_registration, civil_amendment, land_dossier');
  });

  afterAll(async () => {
    await db.query(`drop schema if exists ${SCHEMA} cascade`);
    await db.end();
  });

  const plan = async (sql: string, params: unknown[]): Promise<PlanNode> => {
    const rows = (await db.query(`explain (format json) ${sql}`, params)).rows as Array<{
      'QUERY PLAN': Array<{ Plan: PlanNode }>;
    }>;
    const top = rows[0]?.['QUERY PLAN'][0]?.Plan;
    if (!top) throw new Error(`no plan for ${sql}`);
    return top;
  };

  it.each([
    ['civil status: the amendments of a registration', CIVIL_LOOKUPS.amendmentsOf, ['R77']],
    ['civil status: a birth certificate already used', CIVIL_LOOKUPS.certificateUsed, ['GCS76']],
    ['land: the dossiers whose next stage is due', LAND_DUE, []],
  ])('%s', async (_name, sql, params) => {
    expect(seqScans(await plan(sql, params))).toEqual([]);
  });

  // A prepared statement keeps a generic plan, made without the parameters' values (here: without
  // knowing how many steps the array holds) and with the table's statistics of the moment. As an
  // anti-join, the plan read dvcqg_dossier whole up to a few thousand dossiers.
  it.each([0, 2_000, ROWS])(
    "dvcqg: the steps appended, as the generic plan it runs with, probe each step's dossier by key (%i dossiers)",
    async (dossiers) => {
      await db.query('truncate dvcqg_dossier');
      await db.query(
        `insert into dvcqg_dossier (ma_ho_so, unit, header)
         select 'D' || n, '000.00.01.H01', '{}'::jsonb from generate_series(1, $1) n`,
        [dossiers],
      );
      if (dossiers > 0) await db.query('analyze dvcqg_dossier');
      await db.query(
        `prepare append_steps (int[], text[], jsonb) as ${String(DVCQG_APPEND_STEPS)}`,
      );
      await db.query('set plan_cache_mode = force_generic_plan');
      try {
        const top = await plan(`execute append_steps ('{0}', '{D77}', '[{}]')`, []);
        expect(seqScans(top)).toEqual([]);
      } finally {
        await db.query('reset plan_cache_mode');
        await db.query('deallocate append_steps');
      }
    },
  );
});
