export { LedgerIngest, eventKey } from './ledger-ingest';
export { canonicalJson, fingerprint } from './fingerprint';
export { V1_STATES, asV1 } from './status-v1';
export type {
  IngestOutcome,
  IngestRefusal,
  IngestReport,
  LedgerItem,
  SqlExecutor,
} from './ledger-ingest';
export { redactEchoes, statusError } from './status-error';
export {
  SYNC_LEDGER_MIGRATIONS,
  SyncLedger1763800000300,
  SyncLedgerDispatch1763800000400,
  SyncLedgerHardening1763800000500,
  SyncLedgerTwoPhase1763800000700,
  SyncLedgerFacts1763800000800,
  SyncLedgerPartSends1763800000900,
  SyncLedgerReconcile1763800001000,
  SyncLedgerReconcileSchedule1763800001100,
  SyncLedgerPause1763800001200,
  SyncLedgerCommunePause1763800001300,
  SyncLedgerClaimIndex1763800001400,
  SyncLedgerReference1763800001500,
  SyncLedgerOutboxBatch1763800001600,
  SyncLedgerOutboxFailedIndex1763800001700,
  SyncLedgerStatistics1763800001800,
} from './sync-ledger.migration';
export { Dispatcher } from './dispatcher';
export type { DispatchStats, DispatcherOptions } from './dispatcher';
export { LeaseLostError, PushFailure, PushTarget } from './push-target.port';
export type {
  AwaitingEntity,
  ClaimedEntity,
  DriftField,
  InspectedEntity,
  Inspection,
  Lease,
  PollAnswer,
  PortalStage,
  PushReceipt,
} from './push-target.port';
export { ResultPoller } from './result-poller';
export type { FactOutcome, InboundFact, PollStats, ResultPollerOptions } from './result-poller';
export { OutboxRelay } from './outbox-relay';
export type { OutboxProducer, OutboxRelayOptions } from './outbox-relay';
export { sendTopics } from './outbox-relay';
export { Wakeup } from './wakeup';
export { LedgerFiguresReader } from './ledger-figures';
export type { LedgerFigures } from './ledger-figures';
export { SyncHealthReporter } from './sync-health-reporter';
export type {
  SyncHealthReport,
  SyncHealthReporterOptions,
  TargetHealthSource,
} from './sync-health-reporter';
export { Reconciler, driftFields, inspectEach } from './reconciler';
export type { CheckResult, EntityRef, Verdict } from './reconciler';
export {
  ReconcileRuns,
  ReconcileSchedule,
  ReconcileWorker,
  driftRateUpperBound,
} from './reconcile-runs';
export {
  ReconcileProgressPublisher,
  reconcileProgressMessage,
  sampleDriftBound,
} from './reconcile-progress';
export type {
  OpenEntities,
  ReconcileRunsOptions,
  ReconcileScope,
  ReconcileTiers,
  ReconcileWorkerOptions,
  RunProgress,
  RunSpec,
} from './reconcile-runs';
export { OUTBOX_STATUSES_PER_ROW, SYNC_STATUS_TOPIC, writeCommandResult } from './sync-status';
export {
  countPausedCommunes,
  pauseCommunes,
  pauseTarget,
  readTargetPause,
  resumeCommunes,
  resumeTarget,
} from './target-pause';
export { resyncScope } from './resync';
export type { ResyncOutcome } from './resync';
export { ExchangePublisher } from './exchange-publisher';
export type { ExchangePublisherOptions } from './exchange-publisher';
export { IndicatorsPublisher, runningMonth } from './indicators-publisher';
export type {
  CommuneCounts,
  IndicatorPeriod,
  IndicatorsPublisherOptions,
} from './indicators-publisher';
