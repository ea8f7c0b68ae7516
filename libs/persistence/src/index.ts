export { dataSourceOptions, openDataSource } from './data-source';
export type { PersistenceConfig } from './data-source';
export { returnedRows } from './returned-rows';
export { isTransientDatabaseError } from './transient-error';
export { prepared } from './prepared';
export type { PreparedStatement } from './prepared';
export { TableUpkeep } from './table-upkeep';
export type { TableUpkeepOptions, UpkeepRound, UpkeepSql } from './table-upkeep';
