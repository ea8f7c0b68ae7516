export { LedgerIngest, SYNC_STATUS_TOPIC, fingerprint } from './ledger-ingest';
export type { IngestOutcome, IngestReport, LedgerItem, SqlExecutor } from './ledger-ingest';
export {
  SYNC_LEDGER_MIGRATIONS,
  SyncLedger1763800000300,
  SyncLedgerDispatch1763800000400,
} from './sync-ledger.migration';
export { Dispatcher } from './dispatcher';
export type { DispatchStats, DispatcherOptions } from './dispatcher';
export { PushFailure, PushTarget } from './push-target.port';
export type { ClaimedEntity, PushReceipt } from './push-target.port';
export { OutboxRelay } from './outbox-relay';
export type { OutboxProducer, OutboxRelayOptions } from './outbox-relay';
export { Wakeup } from './wakeup';
