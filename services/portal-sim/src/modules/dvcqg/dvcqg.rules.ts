import { PROCEDURE_CATALOGUE } from '@lienthong/admin-units';
/** DVCQG's answers and checks, as public integrations (OpenCPS and provincial one-stop systems) see them. */
export const DVCQG_CODES = {
  ok: '00',
  sessionInvalid: '01',
  invalidData: '02',
  alreadyExists: '03',
  notFound: '04',
  tooManySteps: '05',
  unknownService: '06',
} as const;

export const DVCQG_MESSAGES = {
  ok: 'Thành công',
  sessionInvalid: 'Phiên làm việc không hợp lệ hoặc đã hết hạn',
  alreadyExists: 'Hồ sơ đã tồn tại',
  notFound: 'Không tìm thấy hồ sơ',
  tooManySteps: 'Mỗi lần cập nhật tối đa 10 bước xử lý',
} as const;

/** Procedures the simulated catalogue knows (base codes; the unit suffix may vary): the national catalogue. */
export const KNOWN_PROCEDURES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(PROCEDURE_CATALOGUE).map(([code, p]) => [code, p.name]),
);

const STAMP = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

/** yyyyMMddHHmmss in Asia/Ho_Chi_Minh → epoch ms, or undefined when malformed. */
export function parseStamp(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = STAMP.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+07:00`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Statuses a dossier can never leave (3 rejected at intake, 8 stopped, 10 result returned). */
const TERMINAL = new Set([3, 8, 10]);

export type DossierHeader = Record<string, unknown> & {
  MaHoSo: string;
  TrangThaiHoSo: number | string;
};

/** Why the portal refuses a header, in its own words; undefined when it accepts it. */
export function headerProblem(
  header: Record<string, unknown>,
  previous?: DossierHeader,
): string | undefined {
  if (typeof header.MaHoSo !== 'string' || header.MaHoSo.length === 0)
    return 'Thiếu mã hồ sơ (MaHoSo)';
  const procedure = typeof header.MaTTHC === 'string' ? header.MaTTHC.slice(0, 8) : '';
  if (!KNOWN_PROCEDURES[procedure])
    return `Mã thủ tục hành chính không tồn tại: ${String(header.MaTTHC)}`;
  const status = Number(header.TrangThaiHoSo);
  if (!Number.isInteger(status) || status < 1 || status > 11)
    return 'Trạng thái hồ sơ không hợp lệ';
  for (const field of ['NgayNopHoSo', 'NgayTiepNhan', 'NgayHenTra', 'NgayTra', 'NgayKetThucXuLy']) {
    if (
      header[field] !== undefined &&
      header[field] !== '' &&
      parseStamp(header[field]) === undefined
    ) {
      return `Sai định dạng ngày ${field} (yyyyMMddHHmmss)`;
    }
  }
  const received = parseStamp(header.NgayTiepNhan);
  const due = parseStamp(header.NgayHenTra);
  if (received !== undefined && due !== undefined && due < received)
    return 'Ngày hẹn trả không được trước ngày tiếp nhận';
  if (previous) {
    // Codes travel as strings ("10"); compare them as numbers.
    const from = Number(previous.TrangThaiHoSo);
    if (TERMINAL.has(from) && status !== from)
      return `Không thể chuyển trạng thái từ ${from} sang ${status}`;
    if (status === 1 && from !== 1) return `Không thể chuyển trạng thái từ ${from} về 1`;
  }
  return undefined;
}

export const STEP_FIELDS = [
  'MaHoSo',
  'NguoiXuLy',
  'ChucDanh',
  'ThoiDiemXuLy',
  'PhongBanXuLy',
  'NoiDungXuLy',
  'TrangThai',
  'NgayBatDau',
  'NgayKetThucTheoQuyDinh',
];

export function stepProblem(step: Record<string, unknown>): string | undefined {
  if (typeof step.MaHoSo !== 'string') return 'Thiếu mã hồ sơ (MaHoSo)';
  if (
    typeof step.NguoiXuLy !== 'string' ||
    step.NguoiXuLy.length === 0 ||
    step.NguoiXuLy.length > 50
  )
    return 'Người xử lý không hợp lệ (tối đa 50 ký tự)';
  if (parseStamp(step.ThoiDiemXuLy) === undefined)
    return 'Sai định dạng ngày ThoiDiemXuLy (yyyyMMddHHmmss)';
  return undefined;
}
