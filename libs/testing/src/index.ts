export { expectEventually } from './expect-eventually';
export type { EventuallyOptions } from './expect-eventually';
export {
  assertTestDatabase,
  kafkaPrincipalEnv,
  kafkaPrincipalSasl,
  principalOfEntry,
  testStack,
} from './test-env';
export type { TestStack } from './test-env';
export { TestSql } from './sql';
export { useTestContext } from './test-context';
export type { TestContext } from './test-context';
export { RecordingConsumer, connectedProducer, testKafka } from './kafka';
export type { ConsumedMessage } from './kafka';
export { BrokerControl, PostgresControl } from './broker-control';
export { PersonalDataWatch } from './personal-data-watch';
export { ServiceProcess, freePort, serviceRuntime } from './service-process';
export { SIMULATOR_ADMIN_TOKEN, portalAdmin, startPortalSim } from './portal-sim-process';
export { SyncWorld } from './sync-world';
export { ReconcileDriver } from './reconcile-driver';
export type { ReconcileRunRow } from './reconcile-driver';
export type { Effect, SyncServiceUnderTest, SyncStatusSeen } from './sync-world';
export type { ServiceOptions, ServiceRuntime } from './service-process';
export * from './fixtures';
export {
  RECONCILE_E2E_ENTITIES,
  RECONCILE_E2E_TIMEOUT_MS,
  reconcileScenario,
} from './reconcile-scenario';
export type { ReconcileScenario, ScenarioEntity } from './reconcile-scenario';
export { openBrowser } from './browser';
export { idpToken, startIngestGateway } from './ingest-gateway-process';
