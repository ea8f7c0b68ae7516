import { PERSONAL_ID_PROVINCE_PREFIXES } from '@lienthong/admin-units';
import type { ValidationIssue } from './validation-failure';

/**
 * The 4th digit of a personal ID encodes century and sex (Circular 59/2021/TT-BCA):
 * 0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s, 6/7 = 2200s, 8/9 = 2300s.
 */
export function decodeCenturySex(id: string): { century: number; sex: 1 | 2 } {
  const d = Number(id[3]);
  return { century: 1900 + Math.floor(d / 2) * 100, sex: d % 2 === 0 ? 1 : 2 };
}

/** The birth year a personal ID claims. */
export function birthYearOf(id: string): number {
  return decodeCenturySex(id).century + Number(id.slice(4, 6));
}

interface PersonFacts {
  /** ISO date yyyy-mm-dd. */
  birthDate?: string;
  /** 1 male, 2 female. */
  sex?: 1 | 2;
}

/**
 * Business rules of a 12-digit personal ID the schema cannot express: a province prefix that
 * exists, and century/sex/year digits consistent with the person's birth date and sex. Messages
 * name the field and the rule, never the number.
 */
export function personalIdIssues(
  id: string,
  pointer: string,
  field: string,
  facts: PersonFacts = {},
): ValidationIssue[] {
  if (!/^[0-9]{12}$/.test(id)) return []; // the schema's pattern reports this one
  const issues: ValidationIssue[] = [];
  const issue = (rule: string, message: string) =>
    issues.push({ path: pointer, field, rule, message: `${field}: ${message}` });
  if (!PERSONAL_ID_PROVINCE_PREFIXES.has(id.slice(0, 3))) {
    issue(
      'personal-id-province',
      'the first 3 digits must be the code of a province (0 + a 2-digit province code)',
    );
  }
  const { sex } = decodeCenturySex(id);
  const year = birthYearOf(id);
  if (facts.birthDate) {
    const actual = Number(facts.birthDate.slice(0, 4));
    if (year !== actual) {
      issue(
        'personal-id-birth-year',
        'digits 4–6 (century and year of birth) do not match the birth date',
      );
    }
  } else if (year > new Date().getUTCFullYear()) {
    issue('personal-id-birth-year', 'the century digit (4th) gives a birth year in the future');
  }
  if (facts.sex !== undefined && facts.sex !== sex) {
    issue('personal-id-sex', 'the 4th digit (century and sex) does not match the sex given');
  }
  return issues;
}
