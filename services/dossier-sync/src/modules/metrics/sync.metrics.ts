import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { ConsumerStats } from '@lienthong/messaging';
import type { DispatchStats, IngestReport } from '@lienthong/sync-engine';

/**
 * What ops watch (README, "Metrics"): events consumed and dead-lettered, ledger ingest outcomes,
 * the backlog by state and the age of the oldest pending change (read from the ledger at scrape
 * time, so every instance reports the shared truth), push outcomes, the unpublished outbox; the
 * portal breaker state and call durations come from ResilienceMetrics on the same registry.
 */
interface LedgerFigures {
  backlog: Record<string, number>;
  oldestPendingSeconds: number;
  outboxUnpublished: number;
  outboxFailed: number;
}

export class SyncMetrics {
  readonly registry = new Registry();
  readonly ingested: Counter<'outcome'>;
  /** Where the counters read from at scrape time (set once the consumer and dispatcher exist). */
  private readonly sources: {
    consumer: () => ConsumerStats | undefined;
    dispatch: DispatchStats | undefined;
  } = { consumer: () => undefined, dispatch: undefined };

  /** The last ledger read and when it was taken: scrapes within `refreshMs` reuse it. */
  private ledger: Promise<LedgerFigures> | undefined;
  private ledgerReadAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    service: string,
    private readonly refreshMs = 5000,
  ) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    const sources = this.sources;
    const ledger = () => this.ledgerFigures();
    new Counter({
      name: 'lienthong_events_consumed_total',
      help: 'Events read from the commune topic: applied (in a committed batch), dead_lettered (sent to the DLQ, any stage), dead_lettered_in_handling (of those, refused or poison in handling), skipped (below the stored offset).',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        const s = sources.consumer();
        this.reset();
        if (!s) return;
        this.inc({ result: 'applied' }, s.applied);
        this.inc({ result: 'dead_lettered' }, s.deadLettered);
        this.inc({ result: 'skipped' }, s.skipped);
        this.inc({ result: 'dead_lettered_in_handling' }, s.deadLetteredInHandling);
      },
    });
    this.ingested = new Counter({
      name: 'lienthong_ledger_ingest_total',
      help: 'Valid events by ledger outcome: accepted (newer state or new step), superseded (older sequence), duplicate (seen before).',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    new Counter({
      name: 'lienthong_sync_push_total',
      help: 'Push outcomes in this instance: synced, retrying, rejected, waiting_on_breaker.',
      labelNames: ['outcome'],
      registers: [this.registry],
      collect() {
        const s = sources.dispatch;
        this.reset();
        if (!s) return;
        this.inc({ outcome: 'synced' }, s.synced);
        this.inc({ outcome: 'retrying' }, s.retrying);
        this.inc({ outcome: 'rejected' }, s.rejected);
        this.inc({ outcome: 'waiting_on_breaker' }, s.waitingOnBreaker);
        this.inc({ outcome: 'lease_lost' }, s.leaseLost);
      },
    });
    new Gauge({
      name: 'lienthong_sync_backlog',
      help: 'Ledger entities not yet synced, by state (all instances; PENDING, RETRYING, REJECTED). Read at most every METRICS_REFRESH_MS.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const figures = await ledger();
        this.reset();
        for (const state of ['PENDING', 'RETRYING', 'REJECTED'])
          this.set({ state }, figures.backlog[state] ?? 0);
      },
    });
    const single: Array<[name: string, help: string, pick: (f: LedgerFigures) => number]> = [
      [
        'lienthong_sync_oldest_pending_seconds',
        'Age of the oldest change not yet at the portal (PENDING or RETRYING); 0 when none.',
        (f) => f.oldestPendingSeconds,
      ],
      [
        'lienthong_outbox_unpublished',
        'sync.status events written but not yet published to Kafka.',
        (f) => f.outboxUnpublished,
      ],
      [
        'lienthong_outbox_failed',
        'Outbox rows set aside because they could not be published (malformed); see the relay log.',
        (f) => f.outboxFailed,
      ],
    ];
    for (const [name, help, pick] of single)
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(pick(await ledger()));
        },
      });
  }

  /**
   * The ledger figures every gauge shows, read in one statement that only touches unsynced rows
   * (partial indexes), and at most once per `refreshMs` however often Prometheus scrapes: the
   * SYNCED majority of the ledger is never counted (`lienthong_sync_push_total` counts syncs).
   */
  private ledgerFigures(): Promise<LedgerFigures> {
    const now = Date.now();
    if (this.ledger && now - this.ledgerReadAt < this.refreshMs) return this.ledger;
    this.ledgerReadAt = now;
    this.ledger = this.dataSource
      .query<Array<{ kind: string; n: string | null }>>(
        `select state as kind, count(*)::text n from sync_entity where state <> 'SYNCED' group by state
         union all
         select 'oldest', extract(epoch from now() - min(pending_since))::text from sync_entity where state in ('PENDING', 'RETRYING')
         union all
         select 'unpublished', count(*)::text from outbox where published_at is null and failed_reason is null
         union all
         select 'failed', count(*)::text from outbox where failed_reason is not null and published_at is null`,
      )
      .then((rows) => {
        const get = (k: string) => Number(rows.find((r) => r.kind === k)?.n ?? 0);
        return {
          backlog: Object.fromEntries(
            ['PENDING', 'RETRYING', 'REJECTED'].map((state) => [state, get(state)]),
          ),
          oldestPendingSeconds: get('oldest'),
          outboxUnpublished: get('unpublished'),
          outboxFailed: get('failed'),
        };
      })
      .catch((err: unknown) => {
        this.ledger = undefined;
        throw err;
      });
    return this.ledger;
  }

  watchConsumer(stats: () => ConsumerStats | undefined): void {
    this.sources.consumer = stats;
  }

  watchDispatcher(stats: DispatchStats): void {
    this.sources.dispatch = stats;
  }

  countIngest(report: IngestReport): void {
    this.ingested.inc({ outcome: 'accepted' }, report.accepted);
    this.ingested.inc({ outcome: 'superseded' }, report.superseded);
    this.ingested.inc({ outcome: 'duplicate' }, report.duplicate);
  }
}
