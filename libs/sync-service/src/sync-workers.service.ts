import { Inject, Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ContractValidator } from '@lienthong/contracts';
import { TableUpkeep } from '@lienthong/persistence';
import { EventProducer } from '@lienthong/messaging';
import { PortalGateway, PostgresExchangeRecorder } from '@lienthong/resilience';
import type { BreakerStateChange, TargetHoldChange } from '@lienthong/resilience';
import {
  Dispatcher,
  LedgerFiguresReader,
  LedgerIngest,
  OutboxRelay,
  PushTarget,
  ReconcileProgressPublisher,
  ReconcileRuns,
  ReconcileSchedule,
  ReconcileWorker,
  Reconciler,
  ResultPoller,
  SYNC_STATUS_TOPIC,
  ExchangePublisher,
  IndicatorsPublisher,
  SyncHealthReporter,
  readTargetPause,
  sampleDriftBound,
} from '@lienthong/sync-engine';
import type { FactOutcome, InboundFact, RunProgress } from '@lienthong/sync-engine';
import { KafkaProbe } from './kafka-probe';
import type { SyncDomain } from './sync-domain';
import { portalSettings } from './sync-service.config';
import type { SyncServiceConfig } from './sync-service.config';
import { SyncSignals } from './sync-signals';
import { SyncMetrics } from './sync.metrics';
import { ROOT_LOGGER, SYNC_CONFIG, SYNC_DOMAIN } from './tokens';

const HOUR = 3_600_000;
/** How often an instance looks whether an operator paused its target. */
const PAUSE_REFRESH_MS = 1000;

/** The end of a sample run's summary line: its drift rate bound. */
function sampleNote(progress: RunProgress): string {
  const bound = sampleDriftBound(progress);
  return bound === null
    ? ''
    : `; a sample: drift rate under ${(100 * bound).toPrecision(2)} % at 95 % confidence`;
}

/**
 * The reconciliation's rate: RECONCILE_RATE_PER_SECOND, and at most RECONCILE_QUOTA_SHARE of the
 * portal's quota when one is configured (<PREFIX>_RATE_LIMIT_PER_SECOND), so pushes keep the rest.
 */
export function reconcileBudget(config: SyncServiceConfig, prefix: string): number {
  const quota = portalSettings(config, prefix).RATE_LIMIT_PER_SECOND;
  const rate = config.RECONCILE_RATE_PER_SECOND;
  return quota > 0 ? Math.min(rate, quota * config.RECONCILE_QUOTA_SHARE) : rate;
}

/**
 * The background work of the service: the dispatcher pushing due ledger rows to the target, the outbox
 * relay publishing sync.status, the sync.health reports, and retention. Started once the app
 * is up; on shutdown it stops claiming, lets the pushes in flight finish and be recorded, and
 * publishes what is left in the outbox.
 */
@Injectable()
export class SyncWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly dispatcher: Dispatcher;
  readonly relay: OutboxRelay;
  readonly health: SyncHealthReporter;
  /** Every portal exchange on sync.exchanges.v1 (telemetry for sync-monitor). */
  readonly exchanges: ExchangePublisher;
  /** The communes' Decision-766 counts on sync.indicators.v1 (domains that compute them). */
  readonly indicators: IndicatorsPublisher | undefined;
  /** Two-phase targets only (a push target with `poll`): asks for the answers of accepted submissions. */
  readonly poller: ResultPoller;
  /** Targets that can be inspected: reconciliation runs, and the worker that drives them. */
  readonly reconcileRuns: ReconcileRuns | undefined;
  private readonly reconcileWorker: ReconcileWorker | undefined;
  /** Lookups per second all reconciliation runs together may make (and a run's rate at most). */
  readonly reconcileBudget: number = 0;
  private retention: NodeJS.Timeout | undefined;
  private pauseWatch: NodeJS.Timeout | undefined;
  private readonly upkeep: TableUpkeep;

  constructor(
    @Inject(SYNC_CONFIG) private readonly config: SyncServiceConfig,
    @Inject(SYNC_DOMAIN) domain: SyncDomain,
    private readonly dataSource: DataSource,
    private readonly ingest: LedgerIngest,
    pushTarget: PushTarget,
    producer: EventProducer,
    metrics: SyncMetrics,
    private readonly signals: SyncSignals,
    private readonly recorder: PostgresExchangeRecorder,
    validator: ContractValidator,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly gateway: PortalGateway,
    figures: LedgerFiguresReader,
    kafkaProbe: KafkaProbe,
  ) {
    this.dispatcher = new Dispatcher({
      dataSource,
      pushTarget,
      owner: config.INSTANCE_ID,
      retry: {
        initialIntervalMs: config.RETRY_INITIAL_MS,
        backoffCoefficient: 2,
        maximumIntervalMs: config.RETRY_MAX_MS,
        maximumAttempts: 0,
      },
      leaseMs: config.DISPATCH_LEASE_MS,
      firstPollMs: config.POLL_INITIAL_MS,
      concurrency: config.DISPATCH_CONCURRENCY,
      idleMs: config.DISPATCH_IDLE_MS,
      wakeup: signals.dispatch,
      onRecorded: () => signals.relay.notify(),
      onError: (err) => logger.error({ err }, 'dispatcher round failed; retrying'),
    });
    metrics.watchDispatcher(this.dispatcher.stats);
    this.relay = new OutboxRelay({
      dataSource,
      producer,
      service: domain.service,
      batchSize: config.OUTBOX_BATCH_SIZE,
      idleMs: config.DISPATCH_IDLE_MS,
      lingerMs: config.OUTBOX_LINGER_MS,
      topicFor: (topic) => (topic === SYNC_STATUS_TOPIC ? config.SYNC_STATUS_TOPIC : topic),
      v2Topic: config.SYNC_STATUS_V2_TOPIC,
      resultsTopic: config.OPS_COMMAND_RESULTS_TOPIC,
      wakeup: signals.relay,
      validator,
      onError: (err) => logger.error({ err }, 'outbox relay round failed; retrying'),
      onSetAside: (id, reason) =>
        logger.error({ outboxId: id, reason }, 'outbox row cannot be published: set aside'),
    });
    this.poller = new ResultPoller({
      dataSource,
      pushTarget,
      owner: config.INSTANCE_ID,
      leaseMs: config.DISPATCH_LEASE_MS,
      initialMs: config.POLL_INITIAL_MS,
      maxMs: Math.max(config.POLL_INITIAL_MS, config.POLL_MAX_MS),
      // Entities fall due by the clock, not by a notify: this wait sets how many a round finds,
      // and so how many share a call (civil status: LayKetQua per province and kind).
      idleMs: config.POLL_IDLE_MS,
      yieldTo: () => this.dispatcher.backlogged(),
      maxYieldMs: config.POLL_YIELD_MAX_MS,
      onRecorded: () => signals.relay.notify(),
      onError: (err) => logger.error({ err }, 'result poll failed; asking again later'),
    });
    if (pushTarget.inspect) {
      this.reconcileRuns = new ReconcileRuns({
        dataSource,
        reconciler: new Reconciler(dataSource, pushTarget),
        pushTarget,
        owner: config.INSTANCE_ID,
        leaseMs: config.DISPATCH_LEASE_MS,
        pageSize: config.RECONCILE_PAGE_SIZE,
        verifyTimeoutMs: config.RECONCILE_VERIFY_TIMEOUT_MS,
        idleMs: config.RECONCILE_IDLE_MS,
        ...(domain.open ? { open: domain.open } : {}),
      });
      this.reconcileBudget = reconcileBudget(config, domain.target.prefix);
      const progressPublisher = new ReconcileProgressPublisher({
        producer,
        validator,
        service: domain.service,
        target: pushTarget.target,
        topic: config.SYNC_RECONCILE_TOPIC,
      });
      const schedule = new ReconcileSchedule(
        this.reconcileRuns,
        {
          recentEveryMs: config.RECONCILE_RECENT_EVERY_MS,
          openEveryMs: config.RECONCILE_OPEN_EVERY_MS,
          sweepPeriodMs: config.RECONCILE_SWEEP_PERIOD_MS,
          sweepSlices: config.RECONCILE_SWEEP_SLICES,
          dryRun: config.RECONCILE_SCHEDULE_MODE === 'dry-run',
          ratePerSecond: this.reconcileBudget,
        },
        {
          hasOpen: domain.open !== undefined,
          onStarted: (tier, runId) =>
            logger.info({ tier, runId }, `scheduled reconciliation (${tier}) started`),
        },
      );
      this.reconcileWorker = new ReconcileWorker(
        this.reconcileRuns,
        {
          idleMs: config.RECONCILE_IDLE_MS,
          budgetPerSecond: this.reconcileBudget,
          pushTarget,
          progressEveryMs: 10_000,
          onProgress: (progress, finished) => {
            progressPublisher.publish(progress).catch((err: unknown) => {
              logger.warn({ err }, 'reconciliation progress not sent; the next report replaces it');
            });
            logger.info(
              { reconcile: progress },
              finished
                ? `reconciliation ${progress.id} ${progress.status}: ${progress.checked} of ${progress.total} checked, ${progress.missing} missing and ${progress.drifted} drifted at the portal, ${progress.repaired} repaired, ${progress.verified} verified, ${progress.inFlux} in flux${progress.dryRun ? ' (dry run: nothing repaired)' : ''}${sampleNote(progress)}`
                : `reconciliation ${progress.id}: ${progress.checked}/${progress.total} checked, ${progress.missing + progress.drifted} differences, ${progress.rate.toFixed(1)}/s, ETA ${progress.etaSeconds === null ? '?' : Math.round(progress.etaSeconds)} s`,
            );
          },
          onError: (err) => logger.error({ err }, 'reconciliation step failed; trying again'),
        },
        schedule,
      );
    }
    this.exchanges = new ExchangePublisher({
      producer,
      validator,
      service: domain.service,
      instance: config.INSTANCE_ID,
      topic: config.SYNC_EXCHANGES_TOPIC,
      onError: (err) => logger.warn({ err }, 'portal exchanges not published yet; kept'),
    });
    recorder.onRecord((exchange) => this.exchanges.add(exchange));
    this.indicators = domain.indicators
      ? new IndicatorsPublisher({
          producer,
          validator,
          db: dataSource,
          service: domain.service,
          domain: pushTarget.domain,
          compute: domain.indicators,
          intervalMs: config.INDICATORS_EVERY_MS,
          topic: config.SYNC_INDICATORS_TOPIC,
          onError: (err) => logger.warn({ err }, 'commune indicators not published this round'),
        })
      : undefined;
    this.upkeep = TableUpkeep.forService(dataSource, config.DB_SCHEMA, logger);
    this.health = new SyncHealthReporter({
      producer,
      validator,
      service: domain.service,
      instance: config.INSTANCE_ID,
      gateway,
      ledger: figures,
      consumerLag: () => kafkaProbe.lag(config.KAFKA_GROUP_ID, config.EVENTS_TOPIC),
      exchangeRecords: () => ({ pending: recorder.pending, lost: recorder.lost }),
      intervalMs: config.HEALTH_REPORT_MS,
      topic: config.SYNC_HEALTH_TOPIC,
      paused: () => gateway.operatorPaused() !== undefined,
      onError: (err) =>
        logger.warn({ err }, 'sync.health report not sent; the next one replaces it'),
    });
  }

  /**
   * An operator's pause of the target, as the ledger says now (every instance looks every
   * second; the one that consumed the command at once): the gateway defers every call while it
   * holds, so nothing is pushed, polled or looked up, and the backlog waits in the ledger.
   */
  async refreshPause(): Promise<void> {
    const pause = await readTargetPause(this.dataSource, this.gateway.target);
    const was = this.gateway.operatorPaused();
    this.gateway.pauseByOperator(pause);
    if (Boolean(was) !== Boolean(pause)) {
      if (pause)
        this.logger.warn(
          { target: this.gateway.target, by: pause.by },
          'target paused by an operator',
        );
      else this.logger.info({ target: this.gateway.target }, 'target resumed by an operator');
      this.health.changed();
      if (!pause) this.signals.dispatch.notify();
    }
  }

  /** A run was started (a command): the worker takes its first step now. */
  reconcileStarted(): void {
    this.reconcileWorker?.notify();
  }

  /** A fact the portal pushed (a callback): applied to the ledger, its status published soon after. */
  async applyFact(fact: InboundFact): Promise<FactOutcome> {
    const outcome = await this.poller.applyFact(fact);
    if (outcome === 'applied') this.signals.relay.notify();
    return outcome;
  }

  /** Breaker and hold changes: logged (what an operator greps for) and reported within a second. */
  private readonly onHold = (change: TargetHoldChange) => {
    if (change.hold)
      this.logger.error(
        {
          target: change.target,
          code: change.hold.code,
          since: change.hold.since,
          nextProbeAt: change.hold.until,
        },
        `target held: ${change.hold.message}; entities wait until a probe call succeeds`,
      );
    else this.logger.info({ target: change.target }, 'target hold lifted: a probe call succeeded');
    this.health.changed();
  };

  private readonly onBreaker = (change: BreakerStateChange) => {
    this.logger.warn({ ...change }, `breaker ${change.state}`);
    this.health.changed();
  };

  onApplicationBootstrap(): void {
    this.gateway.on('target-hold', this.onHold);
    this.gateway.on('breaker-state', this.onBreaker);
    this.health.start();
    this.exchanges.start();
    this.indicators?.start();
    this.dispatcher.start();
    this.poller.start();
    this.reconcileWorker?.start();
    this.relay.start();
    void this.purge();
    this.retention = setInterval(() => void this.purge(), HOUR);
    this.retention.unref();
    this.upkeep.start();
    const watch = () =>
      this.refreshPause().catch((err: unknown) =>
        this.logger.warn({ err }, 'could not read the target pause; keeping the last one'),
      );
    void watch();
    this.pauseWatch = setInterval(() => void watch(), PAUSE_REFRESH_MS);
    this.pauseWatch.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.retention);
    clearInterval(this.pauseWatch);
    await this.upkeep.stop();
    this.gateway.off('target-hold', this.onHold);
    this.gateway.off('breaker-state', this.onBreaker);
    await this.health.stop();
    await this.dispatcher.stop();
    await this.poller.stop();
    await this.reconcileWorker?.stop();
    await this.relay.stop();
    await this.exchanges.stop();
    await this.indicators?.stop();
    // Publish what the last pushes wrote, so a clean stop leaves no status behind.
    while ((await this.relay.runOnce().catch(() => 0)) > 0);
    await this.relay.close();
  }

  /** Retention: processed event ids, published outbox rows, exchange records. */
  private async purge(): Promise<void> {
    try {
      const events = await this.ingest.purgeProcessedEvents(
        this.dataSource,
        this.config.PROCESSED_EVENT_RETENTION_DAYS,
      );
      const outbox = await this.relay.purgePublished(this.config.OUTBOX_RETENTION_HOURS);
      const exchanges = await this.recorder.purgeOlderThan(this.config.EXCHANGE_RETENTION_DAYS);
      if (events + outbox + exchanges > 0)
        this.logger.info({ events, outbox, exchanges }, 'rows past retention purged');
    } catch (err) {
      this.logger.error({ err }, 'retention failed; next run in an hour');
    }
  }
}
