// The Ministry of Justice civil-status interface, in one place (docs/domain.md §2): a token,
// NhanDKHT to submit, LayKetQua to poll; maLoi "0" is success. Dates stay ISO-8601 here: the
// public material shows no other format for this API.
import type { BirthRegistered, DeathRegistered, MarriageRegistered } from '@lienthong/contracts';

export type CivilModule = 'KS' | 'KT' | 'KH';

export interface CivilAnswer {
  maLoi: string;
  moTa?: string;
  maDinhDanhHoSo?: string;
  ketQua?: CivilResultWire[];
}

export interface CivilResultWire {
  maDinhDanhHoSo: string;
  /** 1 received (processing), 4 result available, 6 refused; null when unknown to the registry. */
  trangThai: 1 | 4 | 6 | null;
  ketQuaXuLy?: {
    soDinhDanh?: string;
    soDangKy?: string;
    quyenSo?: string;
    trangSo?: string;
    ngayDangKy?: string;
  };
  loi?: string;
}

export type CivilRegistration =
  | { module: 'KS'; registration: BirthRegistered }
  | { module: 'KT'; registration: DeathRegistered }
  | { module: 'KH'; registration: MarriageRegistered };

export function toSubmission(r: CivilRegistration): Record<string, unknown> {
  const { maDinhDanhHoSo, maTinh, ...hoSo } = r.registration;
  return { module: r.module, maTinh, maDinhDanhHoSo, hoSo };
}
