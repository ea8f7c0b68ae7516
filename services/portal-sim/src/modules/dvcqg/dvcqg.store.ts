import { jsonList, prepared, returnedRows } from '@lienthong/persistence';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';
import { BatchedWrite } from '../common/batched-write';
import { countEffects } from '../effects/effects.store';
import type { DossierHeader } from './dvcqg.rules';

/**
 * DvcqgStore.appendSteps: the steps of several calls, $1 each step's call (a number), $2 its
 * dossier, $3 the steps, a call's steps together in their order. Each call is all or nothing: a
 * call with a step naming a dossier the portal does not hold writes nothing, and its first such
 * dossier is returned with it (the calls without one are not returned). A prepared statement, so
 * its plan is generic: it cannot see how many steps the array holds. Each step's dossier is
 * therefore looked up by a scalar sub-select (an index probe per step), not by a join: as an
 * anti-join over a hundred guessed steps, a generic plan read dvcqg_dossier whole (1.49 ms a call
 * in bench:dossier, against 0.35 ms running + 0.30 ms planning unprepared). The e2e test
 * lookups.e2e-spec checks the generic plan on 0, 2,000 and 20,000 dossiers.
 */
export const DVCQG_APPEND_STEPS = prepared(`with input as (
   select t.call, t.ma, t.step, t.n from rows from (unnest($1::int[]), unnest($2::text[]), jsonb_array_elements($3::jsonb))
     with ordinality as t(call, ma, step, n)
 ), missing as (
   select distinct on (i.call) i.call, i.ma from input i
   where (select 1 from dvcqg_dossier d where d.ma_ho_so = i.ma) is null
   order by i.call, i.n
 ), appended as (
   insert into dvcqg_step (ma_ho_so, step)
   select i.ma, i.step from input i where not exists (select 1 from missing m where m.call = i.call) order by i.n
   returning ma_ho_so
 ), counted as (
   ${countEffects(`select 'dvcqg', ma_ho_so, 'step', count(*), count(*) from appended group by ma_ho_so`)}
 )
 select call, ma as missing from missing`);

/**
 * DvcqgStore.insertNew: $1–$3 one element per new dossier (its MaHoSo, unit, header); inserts those
 * the portal does not hold, counts each as a write, and returns their MaHoSo.
 */
const DVCQG_INSERT_NEW = prepared(`with inserted as (
   insert into dvcqg_dossier (ma_ho_so, unit, header)
   select * from rows from (unnest($1::text[]), unnest($2::text[]), jsonb_array_elements($3::jsonb))
   on conflict (ma_ho_so) do nothing returning ma_ho_so
 ), counted as (
   ${countEffects(`select 'dvcqg', ma_ho_so, 'header', 1, 1 from inserted`)}
 )
 select ma_ho_so as ma from inserted`);

@Injectable()
export class DvcqgStore {
  /** New dossiers of concurrent calls, inserted together (insertNew). */
  private readonly newDossiers = new BatchedWrite<{ unit: string; header: DossierHeader }, boolean>(
    {
      write: async (round) => {
        const rows: Array<{ ma: string }> = await this.db.query(DVCQG_INSERT_NEW, [
          round.map((r) => r.header.MaHoSo),
          round.map((r) => r.unit),
          jsonList(round.map((r) => r.header)),
        ]);
        const inserted = new Set(rows.map((r) => r.ma));
        return round.map((r) => inserted.has(r.header.MaHoSo));
      },
      keysOf: (r) => [r.header.MaHoSo],
    },
  );

  /** Steps of concurrent calls, appended together (appendSteps). */
  private readonly newSteps = new BatchedWrite<
    Array<Record<string, unknown>>,
    { missing?: string }
  >({
    write: async (calls) => {
      const rows: Array<{ call: number; missing: string }> = await this.db.query(
        DVCQG_APPEND_STEPS,
        [
          calls.flatMap((steps, call) => steps.map(() => call)),
          calls.flatMap((steps) => steps.map((s) => s.MaHoSo)),
          jsonList(calls.flat()),
        ],
      );
      const missing = new Map(rows.map((r) => [r.call, r.missing]));
      return calls.map((_, call) => {
        const ma = missing.get(call);
        return ma === undefined ? {} : { missing: ma };
      });
    },
  });

  constructor(@InjectDataSource() readonly db: DataSource) {}

  /** The stored header, locked for the rest of the transaction. */
  async headerForUpdate(tx: EntityManager, maHoSo: string): Promise<DossierHeader | undefined> {
    const rows: Array<{ header: DossierHeader }> = await tx.query(
      'select header from dvcqg_dossier where ma_ho_so = $1 for update',
      [maHoSo],
    );
    return rows[0]?.header;
  }

  async insert(tx: EntityManager, unit: string, header: DossierHeader): Promise<void> {
    await tx.query('insert into dvcqg_dossier (ma_ho_so, unit, header) values ($1, $2, $3)', [
      header.MaHoSo,
      unit,
      header,
    ]);
  }

  async update(tx: EntityManager, header: DossierHeader): Promise<void> {
    await tx.query('update dvcqg_dossier set header = $2, updated_at = now() where ma_ho_so = $1', [
      header.MaHoSo,
      header,
    ]);
  }

  /**
   * Inserts a new dossier and counts the write, unless the portal holds it already: true when
   * inserted (a concurrent insert of the same dossier is "already exists", not an error). A
   * capacity figure of bench:dossier is measured against this simulator: it must not spend round
   * trips a real portal would not, so the new dossiers of concurrent calls go together
   * (BatchedWrite), one DVCQG_INSERT_NEW statement for them.
   */
  async insertNew(unit: string, header: DossierHeader): Promise<boolean> {
    return this.newDossiers.write({ unit, header });
  }

  /**
   * Appends steps in the order given and counts them as writes, all or nothing: when one names a
   * dossier the portal does not hold, nothing is written and the first such dossier is returned.
   * One statement for the steps of concurrent calls (BatchedWrite), where a step at a time took
   * three round trips.
   */
  async appendSteps(steps: Array<Record<string, unknown>>): Promise<{ missing?: string }> {
    return this.newSteps.write(steps);
  }

  async lookup(
    maHoSo: string,
  ): Promise<{ header: DossierHeader; steps: Array<Record<string, unknown>> } | undefined> {
    const rows: Array<{ header: DossierHeader }> = await this.db.query(
      'select header from dvcqg_dossier where ma_ho_so = $1',
      [maHoSo],
    );
    if (!rows[0]) return undefined;
    const steps: Array<{ step: Record<string, unknown> }> = await this.db.query(
      'select step from dvcqg_step where ma_ho_so = $1 order by id',
      [maHoSo],
    );
    return { header: rows[0].header, steps: steps.map((s) => s.step) };
  }

  /** Drift: change a stored header behind the caller's back, or delete the dossier. */
  async drift(maHoSo: string, mode: 'alter' | 'delete'): Promise<boolean> {
    if (mode === 'delete') {
      const rows: unknown[] = await this.db.query(
        'delete from dvcqg_dossier where ma_ho_so = $1 returning 1',
        [maHoSo],
      );
      await this.db.query('delete from dvcqg_step where ma_ho_so = $1', [maHoSo]);
      return returnedRows(rows).length > 0;
    }
    const rows: unknown[] = await this.db.query(
      `update dvcqg_dossier set header = jsonb_set(header, '{NgayHenTra}', to_jsonb('20991231000000'::text)) where ma_ho_so = $1 returning 1`,
      [maHoSo],
    );
    return returnedRows(rows).length > 0;
  }

  async anyKeys(limit: number): Promise<string[]> {
    const rows: Array<{ ma_ho_so: string }> = await this.db.query(
      'select ma_ho_so from dvcqg_dossier order by random() limit $1',
      [limit],
    );
    return rows.map((r) => r.ma_ho_so);
  }
}
