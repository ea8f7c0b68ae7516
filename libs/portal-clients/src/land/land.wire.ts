// The land registry (ILIS/VBDLIS) interface, in one place (docs/domain.md, "Land"): an OAuth2
// password grant, then Bearer calls. TiepNhan answers {data, status{success, code, type, time,
// message}}, success when data == 1 or the message says "đã tồn tại"; map sheet and parcel numbers
// travel as strings. The registry then calls the one-stop system back at each stage, keyed by
// SoBienNhan and the SecurityCode the dossier was sent with.
import type { LandRegistrationReceived } from '@lienthong/contracts';

export interface LandAnswer<T = unknown> {
  data: T;
  status?: { success?: boolean; code?: string; type?: string; time?: string; message?: string };
  /** Older deployments answer a bare message. */
  message?: string;
}

export type LandStatus =
  'ROUTED' | 'SUPPLEMENT_REQUESTED' | 'SUPPLEMENTED' | 'FINANCIAL_OBLIGATION' | 'FINISHED';

export interface TaxNoticeWire {
  HoTenChu: string;
  LoaiThue: string;
  SoThongBaoThue: string;
  DuongDanThongBaoThue: string;
  SoTien?: number;
}

export interface LandDossierWire {
  MaHoSoMotCua: string;
  TrangThai: LandStatus;
  LichSu: Array<{ TrangThai: LandStatus; ThoiDiem: string }>;
  HoSo: Record<string, unknown>;
  ThongBaoThue?: TaxNoticeWire | null;
}

export const ALREADY_EXISTS = /đã tồn tại/i;

/** The callbacks the registry sends, by the last segment of their path. */
export const LAND_CALLBACKS = [
  'LuanChuyen',
  'ChoBoSung',
  'DaBoSung',
  'DongBoKetQuaThue',
  'KetThuc',
] as const;
export type LandCallbackKind = (typeof LAND_CALLBACKS)[number];

/** What every callback carries; each kind adds its own fields. */
export interface LandCallbackWire {
  SoBienNhan: string;
  SecurityCode: string;
  /** When the registry says it happened (RFC 3339). */
  ThoiGian: string;
  [field: string]: unknown;
}

/** The receiver's answer to a callback. */
export interface LandCallbackAnswer {
  Result: boolean;
  Message: string;
}

/** TiepNhan's body: the contract's dossier, parcel numbers as strings, with the callback key. */
export function toTiepNhan(
  dossier: LandRegistrationReceived,
  securityCode: string,
): Record<string, unknown> {
  return {
    ...dossier,
    ThongTinThuaDat: dossier.ThongTinThuaDat.map((p) => ({
      ...p,
      SoHieuBanDo: String(p.SoHieuBanDo),
      SoThuTuThua: String(p.SoThuTuThua),
    })),
    LaQuyTrinhCapTinh: false,
    SecurityCode: securityCode,
  };
}
