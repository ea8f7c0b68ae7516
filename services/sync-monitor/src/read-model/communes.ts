import type { CommuneDirectory } from '@lienthong/admin-units';
import { PROVINCES } from '@lienthong/admin-units';

/** Unknown communes are grouped under province `00` (seen by national roles only). */
export const UNKNOWN_PROVINCE = '00';

/** Province and name of a commune (the 3,321 communes of the 2025 reform), and province names. */
export class Communes {
  private readonly provinces = new Map(PROVINCES.map((p) => [p.code, p.name]));

  constructor(private readonly directory: CommuneDirectory) {}

  provinceOf(communeCode: string): string {
    return this.directory.commune(communeCode)?.provinceCode ?? UNKNOWN_PROVINCE;
  }

  communeName(communeCode: string): string | undefined {
    return this.directory.commune(communeCode)?.name;
  }

  provinceName(provinceCode: string): string | undefined {
    return this.provinces.get(provinceCode);
  }
}
