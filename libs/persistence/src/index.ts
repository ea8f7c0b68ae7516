export { dataSourceOptions, openDataSource } from './data-source';
export type { PersistenceConfig } from './data-source';
export { returnedRows } from './returned-rows';
export { isTransientDatabaseError } from './transient-error';
export { jsonList } from './json-list';
export { prepared } from './prepared';
export type { PreparedStatement } from './prepared';
export { TableUpkeep, UPKEEP_EVERY_MS, UPKEEP_STATISTICS_TARGET } from './table-upkeep';
export type { TableUpkeepOptions, UpkeepLogger, UpkeepRound, UpkeepSql } from './table-upkeep';
