import { PERSONAL_DATA_FIELDS } from '@lienthong/contracts';

/**
 * Personal data never reaches a log in clear (README, "Standards"): values under keys that hold
 * personal data are masked whatever they contain, and any string that looks like a personal ID
 * (CCCD, 12 digits; CMND, 9 digits; grouped or not) or a Vietnamese phone number is masked
 * wherever it appears.
 * A masked value keeps its last two characters, so an operator can still tell two apart.
 */

/**
 * Keys whose values are masked whatever they contain: the personal-data fields the contracts
 * declare (`x-personal-data` in contracts/schemas, generated into PERSONAL_DATA_FIELDS), and
 * credentials, which are not personal data but must not be logged either.
 */
const CREDENTIAL_KEYS = ['password', 'secret', 'session', 'token', 'authorization', 'cookie'];
const PERSONAL_KEYS = new Set(
  [...Object.keys(PERSONAL_DATA_FIELDS), ...CREDENTIAL_KEYS].map((k) => k.toLowerCase()),
);

// A personal ID (12 digits, CCCD; 9 digits, CMND), its digits possibly grouped by single spaces,
// dots or dashes (`001 203 004 567`), not part of a longer number; and phone numbers (0 or +84
// then 9 digits, optionally grouped).
const SEP = '[\\s.\\-]';
const PERSONAL_ID = new RegExp(
  `(?<!\\d${SEP}?)\\d(?:${SEP}?\\d){8}(?:(?:${SEP}?\\d){3})?(?!${SEP}?\\d)`,
  'g',
);
const PHONE = /(?<![\d+])(?:\+84|0)(?:[\s.]?\d){9}(?![\d])/g;

// Identifiers the system mints itself are not personal data, yet their digits can look like an ID
// grouped by dashes: the UUID `8a65361c-8910-4072-9a5c-…` holds `8910-4072-9`. UUIDs and long hex
// strings (trace ids, SHA-256 digests) are therefore left whole; only the text around them is
// searched.
const MINTED_ID =
  /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b|\b[0-9a-fA-F]{32,}\b/g;

export function maskValue(value: string): string {
  return value.length <= 2
    ? '**'
    : `${'*'.repeat(Math.min(8, value.length - 2))}${value.slice(-2)}`;
}

export function maskText(text: string): string {
  let out = '';
  let from = 0;
  for (const minted of text.matchAll(MINTED_ID)) {
    out += maskFreeText(text.slice(from, minted.index)) + minted[0];
    from = minted.index + minted[0].length;
  }
  return out + maskFreeText(text.slice(from));
}

function maskFreeText(text: string): string {
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
