// The DVCQG wire format, in one place (docs/domain.md, "DVCQG"): JSON POSTs carrying session,
// madonvi and service; dates as yyyyMMddHHmmss in Asia/Ho_Chi_Minh; coded values as strings;
// success is error_code "00" (some versions 0); "already exists" comes as 03, 3, -3 or only as the
// text "đã tồn tại"; TraCuuHoSo answers a list (empty: not found) and no processing steps.
// Swap this file when an official specification replaces the public shapes.
import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';

export interface DvcqgResponse {
  error_code: string | number;
  message?: string;
  session?: string;
  expires_in?: number;
  data?: unknown;
  /** Lists (TraCuuHoSo, LayThuTuc) come as `result` in some versions, `data` in others. */
  result?: unknown;
}

export const DVCQG_OK = (code: string | number | undefined) =>
  code === '00' || code === 0 || code === '0';
export const DVCQG_SESSION_INVALID = '01';
export const DVCQG_NOT_FOUND = '04';

/** "Already exists", however the portal says it: codes 03, 3, -3, or only its words. */
export function dvcqgAlreadyExists(code: string | number | undefined, message?: string): boolean {
  const c = String(code ?? '');
  return c === '03' || c === '3' || c === '-3' || /đã tồn tại/i.test(message ?? '');
}

/** A list answer (TraCuuHoSo, LayThuTuc): `result` or `data`, an array; anything else is empty. */
export function dvcqgList(answer: DvcqgResponse): Array<Record<string, unknown>> {
  const list = Array.isArray(answer.result) ? answer.result : answer.data;
  return Array.isArray(list) ? (list as Array<Record<string, unknown>>) : [];
}
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

/** Header fields that are codes: sent as strings ("1", "10"), read back as numbers. */
const HEADER_CODES = [
  'TrangThaiHoSo',
  'KenhThucHien',
  'HinhThuc',
  'LoaiDoiTuong',
  'HoSoCoThanhPhanSoHoa',
  'TaiKhoanDuocXacThucVoiVNeID',
  'DuocThanhToanTrucTuyen',
] as const;
const STEP_CODES = ['TrangThai'] as const;

function codesAsStrings(wire: Record<string, unknown>, fields: readonly string[]): void {
  for (const f of fields) if (typeof wire[f] === 'number') wire[f] = String(wire[f]);
}

function codesAsNumbers(wire: Record<string, unknown>, fields: readonly string[]): void {
  for (const f of fields)
    if (typeof wire[f] === 'string' && /^-?\d+$/.test(wire[f])) wire[f] = Number(wire[f]);
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
  codesAsStrings(wire, HEADER_CODES);
  if (header.DanhSachHoSoBoSung)
    wire.DanhSachHoSoBoSung = header.DanhSachHoSoBoSung.map((s) =>
      convertDates(s, SUPPLEMENT_DATES, toStamp),
    );
  return wire;
}

export function fromWireHeader(wire: Record<string, unknown>): Record<string, unknown> {
  const header = convertDates(wire, HEADER_DATES, fromStamp);
  codesAsNumbers(header, HEADER_CODES);
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
  const wire = convertDates(fields, STEP_DATES, toStamp);
  codesAsStrings(wire, STEP_CODES);
  return wire;
}

export function fromWireStep(wire: Record<string, unknown>): Record<string, unknown> {
  const step = convertDates(wire, STEP_DATES, fromStamp);
  codesAsNumbers(step, STEP_CODES);
  return step;
}
