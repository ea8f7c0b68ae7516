/**
 * Personal data never reaches a log in clear (README, "Standards"): values under keys that hold
 * personal data are masked whatever they contain, and any string that looks like a personal ID
 * (CCCD, 12 digits; CMND, 9 digits) or a Vietnamese phone number is masked wherever it appears.
 * A masked value keeps its last two characters, so an operator can still tell two apart.
 */

/** Field names (as in the contracts and portal wire formats) whose values are personal data. */
const PERSONAL_KEYS = new Set(
  [
    'ChuHoSo',
    'SoDienThoai',
    'Email',
    'MaDoiTuong',
    'SoDinhDanh',
    'DiaChi',
    'HoTen',
    'hoTen',
    'fullName',
    'personalId',
    'soDinhDanh',
    'phone',
    'email',
    'NguoiXuLy',
    'NguoiYeuCauBoSung',
    'password',
    'session',
    'token',
    'authorization',
  ].map((k) => k.toLowerCase()),
);

// A run of 9 or 12 digits not inside a longer number (personal IDs), and phone numbers
// (0 or +84 followed by 9 digits, optionally grouped by spaces or dots).
const PERSONAL_ID = /(?<![\d])(\d{12}|\d{9})(?![\d])/g;
const PHONE = /(?<![\d+])(?:\+84|0)(?:[\s.]?\d){9}(?![\d])/g;

export function maskValue(value: string): string {
  return value.length <= 2
    ? '**'
    : `${'*'.repeat(Math.min(8, value.length - 2))}${value.slice(-2)}`;
}

export function maskText(text: string): string {
  return text.replace(PHONE, maskValue).replace(PERSONAL_ID, maskValue);
}

export function isPersonalKey(key: string): boolean {
  return PERSONAL_KEYS.has(key.toLowerCase());
}

/** A copy of `value` safe to log: personal keys masked, personal-looking strings masked, depth-bounded. */
export function maskPersonalData(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]';
  if (value instanceof Error) {
    return {
      type: value.name,
      message: maskText(value.message),
      stack: value.stack && maskText(value.stack),
    };
  }
  if (Array.isArray(value)) return value.map((v) => maskPersonalData(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] =
      isPersonalKey(k) && v !== undefined && v !== null
        ? typeof v === 'string'
          ? maskValue(v)
          : '[masked]'
        : maskPersonalData(v, depth + 1);
  }
  return out;
}
