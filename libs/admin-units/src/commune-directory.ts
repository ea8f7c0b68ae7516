import { REFORM_DATE } from './provinces';

export const COMMUNE_CODE_PATTERN = /^[0-9]{5}$/;

export function isCommuneCode(value: string): boolean {
  return COMMUNE_CODE_PATTERN.test(value);
}

/** A commune-level unit (xã, phường, đặc khu) in force from `effectiveFrom`. */
export interface Commune {
  code: string;
  name: string;
  provinceCode: string;
  effectiveFrom: string;
}

/** One row of the 2025 reorganisation: an old commune (or part of it) became a new one. */
export interface CommuneMapping {
  oldCode: string;
  oldName: string;
  oldDistrictName: string;
  oldProvinceName: string;
  newCode: string;
}

/** The data a directory is built from (data/sample.json, or the full list from a loader). */
export interface AdminUnitsData {
  source: string;
  effectiveFrom: string;
  communes: Array<Omit<Commune, 'effectiveFrom'>>;
  mappings: CommuneMapping[];
}

/**
 * The commune list and the old→new mapping. A code carries a date: 26740 was Phường Bến Nghé
 * before 2025-07-01 and is Phường Sài Gòn from then on, so lookups ask "on which date?".
 */
export class CommuneDirectory {
  private readonly byCode = new Map<string, Commune>();
  private readonly successors = new Map<string, CommuneMapping[]>();
  private readonly predecessors = new Map<string, CommuneMapping[]>();

  constructor(readonly data: AdminUnitsData) {
    for (const c of data.communes)
      this.byCode.set(c.code, { ...c, effectiveFrom: data.effectiveFrom });
    for (const m of data.mappings) {
      this.successors.set(m.oldCode, [...(this.successors.get(m.oldCode) ?? []), m]);
      this.predecessors.set(m.newCode, [...(this.predecessors.get(m.newCode) ?? []), m]);
    }
  }

  get size(): number {
    return this.byCode.size;
  }

  /** The commune a code means on `date` (ISO yyyy-mm-dd); before the reform: use successorsOf. */
  commune(code: string, date: string = new Date().toISOString().slice(0, 10)): Commune | undefined {
    return date >= REFORM_DATE ? this.byCode.get(code) : undefined;
  }

  communesOf(provinceCode: string): Commune[] {
    return [...this.byCode.values()].filter((c) => c.provinceCode === provinceCode);
  }

  all(): Commune[] {
    return [...this.byCode.values()];
  }

  /** The new communes an old (pre-2025) code became part of: several when it was split. */
  successorsOf(oldCode: string): Commune[] {
    return (this.successors.get(oldCode) ?? [])
      .map((m) => this.byCode.get(m.newCode))
      .filter((c): c is Commune => c !== undefined);
  }

  /** The old communes (or parts of them) a new commune was formed from. */
  predecessorsOf(newCode: string): CommuneMapping[] {
    return this.predecessors.get(newCode) ?? [];
  }
}
