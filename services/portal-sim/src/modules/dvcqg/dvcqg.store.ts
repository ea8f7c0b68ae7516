import { returnedRows } from '@lienthong/persistence';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';
import type { DossierHeader } from './dvcqg.rules';

@Injectable()
export class DvcqgStore {
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

  async appendStep(tx: EntityManager, step: Record<string, unknown>): Promise<void> {
    await tx.query('insert into dvcqg_step (ma_ho_so, step) values ($1, $2)', [step.MaHoSo, step]);
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

  async exists(tx: EntityManager, maHoSo: string): Promise<boolean> {
    const rows: unknown[] = await tx.query('select 1 from dvcqg_dossier where ma_ho_so = $1', [
      maHoSo,
    ]);
    return returnedRows(rows).length > 0;
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
