import { returnedRows } from '@lienthong/persistence';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EffectsStore } from '../effects/effects.store';
import { FaultRegistry } from '../faults/fault-registry.service';
import { PortalSimSettings } from '../../config/portal-sim.settings';

export type CivilModule = 'KS' | 'KT' | 'KH';

export interface CivilAnswer {
  maLoi: string;
  moTa: string;
  maDinhDanhHoSo?: string;
  ketQua?: unknown[];
}

interface Row {
  ma_dinh_danh_ho_so: string;
  module: CivilModule;
  ma_tinh: string;
  payload: Record<string, unknown>;
  ready_at: Date;
  outcome: 'accepted' | 'refused';
  result: Record<string, unknown> | null;
  refusal: string | null;
}

async function nextValue(tx: { query: DataSource['query'] }, sequence: string): Promise<string> {
  const rows = await tx.query<Array<{ n: string }>>(`select nextval('${sequence}') n`);
  return rows[0]?.n ?? '0';
}

const REQUIRED: Record<CivilModule, string[]> = {
  KS: ['nksHoTen', 'nksGioiTinh', 'nksNgaySinh', 'meHoTen', 'meSoDDCN'],
  KT: ['nktHoTen', 'nktNgaySinh', 'nktNgayChet', 'gbtSo'],
  KH: ['chongHoTen', 'chongSoDDCN', 'voHoTen', 'voSoDDCN', 'ngayDangKy'],
};

/**
 * The Ministry of Justice civil-status system: NhanDKHT takes a registration, LayKetQua reports
 * it processing and later its result. A birth's result carries the child's new personal ID.
 */
@Injectable()
export class CivilStatusService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly effects: EffectsStore,
    private readonly faults: FaultRegistry,
    private readonly settings: PortalSimSettings,
  ) {}

  async submit(body: Record<string, unknown>): Promise<CivilAnswer> {
    const answer = await this.accept(body);
    const drift =
      answer.maLoi === '0' && answer.maDinhDanhHoSo
        ? this.faults.shouldDrift('civil-status')
        : undefined;
    if (drift && answer.maDinhDanhHoSo) await this.drift(answer.maDinhDanhHoSo, drift);
    return answer;
  }

  private async accept(body: Record<string, unknown>): Promise<CivilAnswer> {
    const module = body.module as CivilModule;
    const id = body.maDinhDanhHoSo;
    const hoSo = body.hoSo as Record<string, unknown> | undefined;
    if (!['KS', 'KT', 'KH'].includes(module))
      return { maLoi: '2', moTa: 'Mã nghiệp vụ (module) không hợp lệ' };
    if (typeof id !== 'string' || id.length === 0)
      return { maLoi: '2', moTa: 'Thiếu mã định danh hồ sơ' };
    if (typeof body.maTinh !== 'string' || !/^[0-9]{2}$/.test(body.maTinh))
      return { maLoi: '2', moTa: 'Mã tỉnh không hợp lệ' };
    if (!hoSo || typeof hoSo !== 'object') return { maLoi: '2', moTa: 'Thiếu dữ liệu hồ sơ' };
    const missing = REQUIRED[module].find((f) => hoSo[f] === undefined || hoSo[f] === '');
    if (missing) return { maLoi: '2', moTa: `Thiếu trường bắt buộc: ${missing}` };
    return this.db.transaction(async (tx) => {
      const existing: unknown[] = await tx.query(
        'select 1 from civil_registration where ma_dinh_danh_ho_so = $1 for update',
        [id],
      );
      if (existing.length > 0) {
        // A duplicate submission changes nothing: the first one's result stands.
        await this.effects.record(tx, 'civil-status', id, 'submit', false);
        return { maLoi: '0', moTa: 'Hồ sơ đã được tiếp nhận trước đó', maDinhDanhHoSo: id };
      }
      let refusal: string | null = null;
      if (module === 'KS' && typeof hoSo.maGCS === 'string') {
        const used: unknown[] = await tx.query(
          `select 1 from civil_registration where module = 'KS' and payload->>'maGCS' = $1`,
          [hoSo.maGCS],
        );
        if (used.length > 0) refusal = 'Giấy chứng sinh đã được sử dụng để đăng ký khai sinh';
      }
      await tx.query(
        `insert into civil_registration (ma_dinh_danh_ho_so, module, ma_tinh, payload, ready_at, outcome, refusal)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000), $6, $7)`,
        [
          id,
          module,
          body.maTinh,
          hoSo,
          this.settings.civilResultDelayMs,
          refusal ? 'refused' : 'accepted',
          refusal,
        ],
      );
      await this.effects.record(tx, 'civil-status', id, 'submit', true);
      return { maLoi: '0', moTa: 'Tiếp nhận thành công', maDinhDanhHoSo: id };
    });
  }

  async results(body: Record<string, unknown>): Promise<CivilAnswer> {
    const ids = body.maDinhDanhHoSo;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100)
      return { maLoi: '2', moTa: 'Danh sách mã định danh hồ sơ phải có từ 1 đến 100 phần tử' };
    const ketQua: unknown[] = [];
    for (const id of ids as unknown[]) ketQua.push(await this.resultOf(String(id)));
    return { maLoi: '0', moTa: 'Thành công', ketQua };
  }

  private async resultOf(id: string): Promise<Record<string, unknown>> {
    return this.db.transaction(async (tx) => {
      const rows: Row[] = await tx.query(
        'select * from civil_registration where ma_dinh_danh_ho_so = $1 for update',
        [id],
      );
      const row = rows[0];
      if (!row) return { maDinhDanhHoSo: id, trangThai: null, loi: 'Không tìm thấy hồ sơ' };
      if (row.ready_at.getTime() > Date.now()) return { maDinhDanhHoSo: id, trangThai: 1 };
      if (row.outcome === 'refused') return { maDinhDanhHoSo: id, trangThai: 6, loi: row.refusal };
      if (!row.result) {
        row.result = await this.assignResult(tx, row);
        await tx.query('update civil_registration set result = $2 where ma_dinh_danh_ho_so = $1', [
          id,
          row.result,
        ]);
      }
      return { maDinhDanhHoSo: id, trangThai: 4, ketQuaXuLy: row.result };
    });
  }

  private async assignResult(
    tx: { query: DataSource['query'] },
    row: Row,
  ): Promise<Record<string, unknown>> {
    const n = await nextValue(tx, 'civil_register_no_seq');
    const year = new Date().getFullYear();
    const result: Record<string, unknown> = {
      soDangKy: `${n}/${year}`,
      quyenSo: `01/${year}`,
      trangSo: String(Number(n) % 200 || 200),
      ngayDangKy: new Date().toISOString(),
    };
    if (row.module === 'KS') result.soDinhDanh = await this.newPersonalId(tx, row);
    return result;
  }

  /** 0 + province of registration, century/sex digit, year of birth, 6 digits: consistent by construction. */
  private async newPersonalId(tx: { query: DataSource['query'] }, row: Row): Promise<string> {
    const born = typeof row.payload.nksNgaySinh === 'string' ? row.payload.nksNgaySinh : '';
    const year = Number(born.slice(0, 4)) || new Date().getFullYear();
    const female = Number(row.payload.nksGioiTinh) === 2;
    const centuryDigit = Math.floor((year - 1900) / 100) * 2 + (female ? 1 : 0);
    const n = await nextValue(tx, 'civil_personal_id_seq');
    return `0${row.ma_tinh}${centuryDigit}${String(year % 100).padStart(2, '0')}${String(Number(n) % 1_000_000).padStart(6, '0')}`;
  }

  async drift(id: string, mode: 'alter' | 'delete'): Promise<boolean> {
    const rows: unknown[] =
      mode === 'delete'
        ? await this.db.query(
            'delete from civil_registration where ma_dinh_danh_ho_so = $1 returning 1',
            [id],
          )
        : await this.db.query(
            `update civil_registration set payload = jsonb_set(payload, '{nksQueQuan}', '"(đã sửa)"') where ma_dinh_danh_ho_so = $1 returning 1`,
            [id],
          );
    return returnedRows(rows).length > 0;
  }
}
