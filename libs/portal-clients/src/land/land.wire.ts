// The land registry (ILIS/VBDLIS) interface, in one place (docs/domain.md §3): OAuth2 password
// grant, then Bearer calls; receiving answers data == 1, a repeat "đã tồn tại".
export interface LandAnswer<T = unknown> {
  data: T;
  message?: string;
}

export type LandStatus = 'ROUTED' | 'FINANCIAL_OBLIGATION' | 'FINISHED';

export interface LandDossierWire {
  MaHoSoMotCua: string;
  TrangThai: LandStatus;
  LichSu: Array<{ TrangThai: LandStatus; ThoiDiem: string }>;
  HoSo: Record<string, unknown>;
}

export interface TaxNoticeWire {
  HoTenChu: string;
  LoaiThue: string;
  SoThongBaoThue: string;
  DuongDanThongBaoThue: string;
  SoTien?: number;
}

export const ALREADY_EXISTS = /đã tồn tại/i;
