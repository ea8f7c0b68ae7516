export { SyncServiceModule } from './sync-service.module';
export { runSyncService } from './run-sync-service';
export {
  DEFAULT_IN_FLIGHT,
  loadSyncServiceConfig,
  portalSettings,
  portalVars,
  syncServiceVars,
} from './sync-service.config';
export type { SyncServiceConfig, SyncServiceDefaults } from './sync-service.config';
export type { SyncDomain } from './sync-domain';
export { SyncMetrics } from './sync.metrics';
export { ROOT_LOGGER, SYNC_CONFIG, SYNC_DOMAIN } from './tokens';
export { SyncWorkers } from './sync-workers.service';
export { SyncSignals } from './sync-signals';
