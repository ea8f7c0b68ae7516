// The DVCQG wire format, in one place (docs/domain.md §1): JSON POSTs carrying session,
// madonvi and service; dates as yyyyMMddHHmmss in Asia/Ho_Chi_Minh; success is error_code "00"
// (some versions 0). Swap this file when an official specification replaces the public shapes.
import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';

export interface DvcqgResponse {
  error_code: string | number;
  message?: string;
  session?: string;
  expires_in?: number;
  data?: unknown;
}

export const DVCQG_OK = (code: string | number | undefined) =>
  code === '00' || code === 0 || code === '0';
export const DVCQG_SESSION_INVALID = '01';
export const DVCQG_ALREADY_EXISTS = '03';
export const DVCQG_NOT_FOUND = '04';
/** Answers that mean "this request is wrong" (a person must look), not "try again later". */
export const DVCQG_REJECTIONS = new Set(['02', '05', '06']);
export const STEPS_PER_CALL = 10;

const VN_OFFSET_MS = 7 * 3_600_000;

/** RFC 3339 (any offset) → yyyyMMddHHmmss in Vietnam's time (UTC+7, no daylight saving). */
export function toStamp(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${iso}`);
  return new Date(ms + VN_OFFSET_MS).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

/** yyyyMMddHHmmss (Vietnam) → RFC 3339 with +07:00. */
export function fromStamp(stamp: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(stamp);
  if (!m) throw new Error(`not a DVCQG timestamp: ${stamp}`);
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+07:00`;
}

const HEADER_DATES = [
  'NgayNopHoSo',
  'NgayTiepNhan',
  'NgayHenTra',
  'NgayTra',
  'NgayKetThucXuLy',
] as const;
const SUPPLEMENT_DATES = ['NgayBoSung', 'NgayTiepNhanBoSung', 'NgayHenTraMoi'] as const;
const STEP_DATES = ['ThoiDiemXuLy', 'NgayBatDau', 'NgayKetThucTheoQuyDinh'] as const;

function convertDates<T extends object>(
  source: T,
  fields: readonly string[],
  convert: (v: string) => string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(source as Record<string, unknown>) };
  for (const f of fields) if (typeof out[f] === 'string') out[f] = convert(out[f]);
  return out;
}

export function toWireHeader(header: DossierUpserted): Record<string, unknown> {
  const wire = convertDates(header, HEADER_DATES, toStamp);
  if (header.DanhSachHoSoBoSung)
    wire.DanhSachHoSoBoSung = header.DanhSachHoSoBoSung.map((s) =>
      convertDates(s, SUPPLEMENT_DATES, toStamp),
    );
  return wire;
}

export function fromWireHeader(wire: Record<string, unknown>): Record<string, unknown> {
  const header = convertDates(wire, HEADER_DATES, fromStamp);
  if (Array.isArray(wire.DanhSachHoSoBoSung)) {
    header.DanhSachHoSoBoSung = (wire.DanhSachHoSoBoSung as Array<Record<string, unknown>>).map(
      (s) => convertDates(s, SUPPLEMENT_DATES, fromStamp),
    );
  }
  return header;
}

/** A step as DVCQG takes it: its fields only (our stable step id stays in the ledger). */
export function toWireStep(step: DossierProgressStep): Record<string, unknown> {
  const { MaBuocXuLy: _stableId, ...fields } = step;
  return convertDates(fields, STEP_DATES, toStamp);
}

export function fromWireStep(wire: Record<string, unknown>): Record<string, unknown> {
  return convertDates(wire, STEP_DATES, fromStamp);
}
