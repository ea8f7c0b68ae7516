// The Ministry of Justice civil-status registry, as public integrations call it (docs/domain.md,
// "Civil status"): NhanDKHT takes a registration whose record travels as a JSON string in `data`,
// LayKetQua answers each registration's stage (trangThai "1".."6") and, at the end, its result.
// Record dates are dd.MM.yyyy; identities are a document type + number pair.
import type {
  BirthRegistered,
  DeathRegistered,
  MarriageRegistered,
  RegistrationAmended,
} from '@lienthong/contracts';

/** LTKS birth, LTKT death, LTKH marriage (the interlinked-procedure modules). */
export type CivilModule = 'LTKS' | 'LTKT' | 'LTKH';

export type CivilRegistration =
  | { module: 'LTKS'; registration: BirthRegistered }
  | { module: 'LTKT'; registration: DeathRegistered }
  | { module: 'LTKH'; registration: MarriageRegistered };

/** NhanDKHT's (and CaiChinhDKHT's) answer: status "1" is success. */
export interface CivilAnswer {
  status: string | number;
  statusDescription?: string;
  errorCode?: string | number | null;
  errorDescription?: string | null;
}

/** One registration in LayKetQua's answer. */
export interface CivilResultWire {
  maHoSoMCDT: string;
  maHoSoLT?: string;
  /** 1 waiting for intake, 2 supplement requested, 3 processing, 4 result, 5 result returned, 6 refused. */
  trangThai: string | number;
  thoiGianThucHien?: string;
  ghiChu?: string;
  noiDungXuLy?: string;
  /** dd/MM/yyyy or dd/MM/yyyy HH:mm:ss: the supplement deadline (trangThai 2). */
  hanBoSungHoSo?: string;
  ketQuaXuLy?: {
    soDinhDanh?: string;
    soDangKy?: string;
    quyenSo?: string;
    trangSo?: string;
    ngayDangKy?: string;
    giayKhaiSinh?: string;
    maGiayToKetQua?: string;
  };
}

export interface LayKetQuaAnswer {
  status: string | number;
  value?: CivilResultWire[];
  errorDescription?: string;
}

/**
 * Document type of a personal ID number (số định danh cá nhân) in `*LoaiGiayToTuyThan`.
 * Unverified: the public code shows the field, not its code list; kept in one place.
 */
export const PERSONAL_ID_DOCUMENT_TYPE = '4';

/** Duplicate submissions are recognised by this text (the registry keeps the first). */
export const ALREADY_RECEIVED = /đã được tiếp nhận/i;

const VN_OFFSET_MS = 7 * 3_600_000;
const pad = (n: number) => String(n).padStart(2, '0');

/** An RFC 3339 instant as the registry writes it: dd/MM/yyyy HH:mm:ss, Vietnam time. */
export function toVnStamp(iso: string): string {
  const d = new Date(Date.parse(iso) + VN_OFFSET_MS);
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** dd/MM/yyyy[ HH:mm:ss] (Vietnam time) → RFC 3339; a date alone stays a date. Undefined if unreadable. */
export function fromVnStamp(value: string | undefined): string | undefined {
  const m = /^(\d{2})[/.](\d{2})[/.](\d{4})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(value ?? '');
  if (!m) return undefined;
  const [, dd, mm, yyyy, hh, mi, ss] = m;
  if (hh === undefined) return `${yyyy}-${mm}-${dd}`;
  return `${yyyy}-${mm}-${dd}T${hh}:${mi}:${ss ?? '00'}+07:00`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T/;

/** A record value as the registry wants it: dates dd.MM.yyyy, date-times dd.MM.yyyy HH:mm (Vietnam time). */
function recordValue(value: unknown): unknown {
  if (typeof value === 'string') {
    const date = DATE.exec(value);
    if (date) return `${date[3]}.${date[2]}.${date[1]}`;
    if (DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))) {
      const [day, time] = toVnStamp(value).split(' ');
      return `${(day as string).replace(/\//g, '.')} ${(time as string).slice(0, 5)}`;
    }
    return value;
  }
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(recordValue);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, recordValue(v)]));
  return value;
}

/** The record in `data`: identities as type + number, dates as the registry writes them. */
export function toRecord(registration: Record<string, unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(registration)) {
    const id = /^(.*)SoDDCN$/.exec(key);
    if (id) {
      record[`${id[1]}LoaiGiayToTuyThan`] = PERSONAL_ID_DOCUMENT_TYPE;
      record[`${id[1]}SoGiayToTuyThan`] = value;
    } else record[key] = recordValue(value);
  }
  return record;
}

/** NhanDKHT's body. maHoSoMCDT is the commune's registration id; the unit is the commune's. */
export function toSubmission(r: CivilRegistration, maDonVi: string): Record<string, unknown> {
  const { maDinhDanhHoSo, ngayDangKy } = r.registration;
  return {
    module: r.module,
    maDonVi,
    maHoSoMCDT: maDinhDanhHoSo,
    maHoSoLT: '',
    ngayTiepNhan: toVnStamp(ngayDangKy ?? new Date().toISOString()),
    data: JSON.stringify(toRecord(r.registration as unknown as Record<string, unknown>)),
    fileDinhKem: [],
  };
}

/**
 * An amendment (cải chính) of a registration the registry holds. Modelled: no public integration
 * shows this exchange, so it follows NhanDKHT's form, keyed by the amendment's own id.
 */
export function toAmendment(
  amendment: RegistrationAmended,
  module: CivilModule,
  maDonVi: string,
  maYeuCau: string,
): Record<string, unknown> {
  return {
    module,
    maDonVi,
    maHoSoMCDT: amendment.maDinhDanhHoSo,
    maYeuCau,
    ngayTiepNhan: toVnStamp(amendment.ngayThayDoi),
    data: JSON.stringify(
      toRecord({
        noiDungThayDoi: amendment.noiDungThayDoi,
        lyDo: amendment.lyDo,
        soQuyetDinh: amendment.soQuyetDinh ?? '',
        ngayThayDoi: amendment.ngayThayDoi,
      }),
    ),
  };
}
