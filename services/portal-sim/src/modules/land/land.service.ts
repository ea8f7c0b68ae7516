import { returnedRows } from '@lienthong/persistence';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EffectsStore } from '../effects/effects.store';
import { FaultRegistry } from '../faults/fault-registry.service';
import { PortalSimSettings } from '../../config/portal-sim.settings';

export type LandStatus = 'ROUTED' | 'FINANCIAL_OBLIGATION' | 'FINISHED';

export interface LandAnswer {
  data: unknown;
  message: string;
}

interface Row {
  ma_ho_so_mot_cua: string;
  payload: Record<string, unknown>;
  status: LandStatus;
  history: Array<{ TrangThai: LandStatus; ThoiDiem: string }>;
  tax_notice: Record<string, unknown> | null;
  next_transition_at: Date | null;
}

/** Procedures that transfer rights owe tax: the dossier waits at FINANCIAL_OBLIGATION for the notice. */
const TAXED_PROCEDURES = new Set(['DKBD', 'CN', 'TC']);

/**
 * The land registry (ILIS/VBDLIS): receive a dossier, then it moves ROUTED → (FINANCIAL_OBLIGATION
 * with a tax notice the caller must fetch) → FINISHED as time passes (PORTAL_SIM_LAND_STEP_MS).
 */
@Injectable()
export class LandService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly effects: EffectsStore,
    private readonly faults: FaultRegistry,
    private readonly settings: PortalSimSettings,
  ) {}

  async receive(body: Record<string, unknown>): Promise<{ status: number; answer: LandAnswer }> {
    const ma = body.MaHoSoMotCua;
    if (typeof ma !== 'string' || ma.length === 0)
      return { status: 400, answer: { data: 0, message: 'Thiếu MaHoSoMotCua' } };
    const parcels = body.ThongTinThuaDat;
    if (!Array.isArray(parcels) || parcels.length === 0)
      return { status: 400, answer: { data: 0, message: 'Hồ sơ phải có ít nhất một thửa đất' } };
    for (const p of parcels as Array<Record<string, unknown>>) {
      if (!Number.isInteger(p.SoHieuBanDo) || !Number.isInteger(p.SoThuTuThua)) {
        return {
          status: 400,
          answer: { data: 0, message: 'Số hiệu bản đồ và số thứ tự thửa phải là số nguyên' },
        };
      }
    }
    const person = body.ThongTinNguoiNopDon as Record<string, unknown> | undefined;
    if (!person || typeof person.HoTen !== 'string')
      return { status: 400, answer: { data: 0, message: 'Thiếu thông tin người nộp đơn' } };
    const answer = await this.db.transaction(async (tx) => {
      const existing: unknown[] = await tx.query(
        'select 1 from land_dossier where ma_ho_so_mot_cua = $1 for update',
        [ma],
      );
      if (existing.length > 0) {
        await this.effects.record(tx, 'land', ma, 'receive', false);
        return { data: 0, message: 'Hồ sơ đã tồn tại' };
      }
      const now = new Date().toISOString();
      await tx.query(
        `insert into land_dossier (ma_ho_so_mot_cua, payload, status, history, next_transition_at)
         values ($1, $2, 'ROUTED', $3, now() + make_interval(secs => $4::double precision / 1000))`,
        [
          ma,
          body,
          JSON.stringify([{ TrangThai: 'ROUTED', ThoiDiem: now }]),
          this.settings.landStepMs,
        ],
      );
      await this.effects.record(tx, 'land', ma, 'receive', true);
      return { data: 1, message: 'Thành công' };
    });
    const drift = answer.data === 1 ? this.faults.shouldDrift('land') : undefined;
    if (drift) await this.drift(ma, drift);
    return { status: 200, answer };
  }

  /** The dossier with its lifecycle advanced to now. */
  async lookup(ma: string): Promise<Row | undefined> {
    return this.db.transaction(async (tx) => {
      const rows: Row[] = await tx.query(
        'select * from land_dossier where ma_ho_so_mot_cua = $1 for update',
        [ma],
      );
      const row = rows[0];
      if (!row) return undefined;
      let changed = false;
      while (row.next_transition_at && row.next_transition_at.getTime() <= Date.now()) {
        const at = row.next_transition_at;
        const flow = row.payload.ThongTinQuyTrinh as Record<string, unknown> | undefined;
        const procedure = typeof flow?.MaQuyTrinh === 'string' ? flow.MaQuyTrinh : '';
        if (row.status === 'ROUTED' && TAXED_PROCEDURES.has(procedure)) {
          row.status = 'FINANCIAL_OBLIGATION';
          row.tax_notice = this.taxNotice(row);
        } else row.status = 'FINISHED';
        row.history.push({ TrangThai: row.status, ThoiDiem: at.toISOString() });
        row.next_transition_at =
          row.status === 'FINISHED' ? null : new Date(at.getTime() + this.settings.landStepMs);
        changed = true;
      }
      if (changed) {
        await tx.query(
          'update land_dossier set status = $2, history = $3, tax_notice = $4, next_transition_at = $5 where ma_ho_so_mot_cua = $1',
          [ma, row.status, JSON.stringify(row.history), row.tax_notice, row.next_transition_at],
        );
      }
      return row;
    });
  }

  private taxNotice(row: Row): Record<string, unknown> {
    const owner = (row.payload.ThongTinNguoiNopDon as Record<string, unknown> | undefined)?.HoTen;
    const number = `TB-${row.ma_ho_so_mot_cua.replace(/[^0-9]/g, '').slice(-8)}`;
    return {
      HoTenChu: owner,
      LoaiThue: 'LPTB',
      SoThongBaoThue: number,
      DuongDanThongBaoThue: `https://thue.portal-sim.local/thong-bao/${number}.pdf`,
      SoTien: 500_000,
    };
  }

  async drift(ma: string, mode: 'alter' | 'delete'): Promise<boolean> {
    const rows: unknown[] =
      mode === 'delete'
        ? await this.db.query('delete from land_dossier where ma_ho_so_mot_cua = $1 returning 1', [
            ma,
          ])
        : await this.db.query(
            `update land_dossier set payload = jsonb_set(payload, '{SoBienNhan}', '"(đã sửa)"') where ma_ho_so_mot_cua = $1 returning 1`,
            [ma],
          );
    return returnedRows(rows).length > 0;
  }
}
