import type { Type } from '@nestjs/common';
import type { ConsumedEvent } from '@lienthong/messaging';
import type { PortalGateway } from '@lienthong/resilience';
import type {
  CommuneCounts,
  IndicatorPeriod,
  LedgerItem,
  OpenEntities,
  PushTarget,
  SqlExecutor,
} from '@lienthong/sync-engine';
import type { SyncServiceConfig } from './sync-service.config';

/**
 * What makes a domain service: its contract topic, its mapping of events to the ledger and its
 * push target. Everything else (Kafka and the transactional consumer, the ledger, dispatcher,
 * outbox relay, health reports, metrics, logs, shutdown) is the kit's.
 */
export interface SyncDomain<C extends SyncServiceConfig = SyncServiceConfig> {
  /** e.g. dossier-sync: logs, metrics label, ce_source /lienthong/<service>, outbox event ids. */
  service: string;
  /** The contract topic consumed (the handlers' pattern; EVENTS_TOPIC may name a copy). */
  contractTopic: string;
  /** A valid event as the ledger sees it (a snapshot of the entity, or a part of it). */
  ledgerItem(event: ConsumedEvent): LedgerItem;
  target: {
    /** The national system pushed to (sync.status `target`, health key, metrics label). */
    name: 'dvcqg' | 'civil-status-registry' | 'land-registry';
    /** Prefix of its gateway variables (`portalVars`): DVCQG → DVCQG_TIMEOUT_MS, … */
    prefix: string;
    /** The port the dispatcher pushes through, built on the target's gateway. */
    pushTarget(gateway: PortalGateway, config: C): PushTarget;
  };
  /**
   * Which synced entities are still open in their domain (the reconciliation's "open" tier): the
   * desired state's field and its final values. Without it, a synced entity is final (a two-phase
   * portal's answer is its end) and the tier does not run.
   */
  open?: OpenEntities;
  /**
   * Decision 766's counts per commune, from the ledger (the dossier domain): published on
   * sync.indicators.v1 every INDICATORS_EVERY_MS for sync-monitor's indicator page.
   */
  indicators?: (db: SqlExecutor, period: IndicatorPeriod) => Promise<CommuneCounts[]>;
  /**
   * HTTP endpoints the domain adds (a portal's callbacks). They may inject the kit's providers:
   * SyncWorkers (applyFact), SYNC_CONFIG, ROOT_LOGGER.
   */
  controllers?: Array<Type<unknown>>;
}
