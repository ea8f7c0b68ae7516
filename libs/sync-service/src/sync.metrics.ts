import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConsumerStats } from '@lienthong/messaging';
import type {
  DispatchStats,
  IngestReport,
  LedgerFigures,
  LedgerFiguresReader,
} from '@lienthong/sync-engine';

/**
 * What ops watch (README, "Metrics"): events consumed and dead-lettered, ledger ingest outcomes,
 * the backlog by state and the age of the oldest pending change (read from the ledger, at most
 * every METRICS_REFRESH_MS, so every instance reports the shared truth), push outcomes, the unpublished outbox; the
 * portal breaker state and call durations come from ResilienceMetrics on the same registry.
 */
export class SyncMetrics {
  readonly registry = new Registry();
  readonly ingested: Counter<'outcome'>;
  /** Where the counters read from at scrape time (set once the consumer and dispatcher exist). */
  private readonly sources: {
    consumer: () => ConsumerStats | undefined;
    dispatch: DispatchStats | undefined;
  } = { consumer: () => undefined, dispatch: undefined };

  constructor(figures: LedgerFiguresReader, service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    // Node's default metrics give the event loop's lag, not how much of the time it is busy: a
    // sync service does everything on one thread, so a rate near 1 means it is the limit (scale
    // out) rather than the database or the portal.
    new Counter({
      name: 'lienthong_event_loop_busy_seconds_total',
      help: "Time the event loop spent running code (not waiting for I/O) since the start; its rate is the loop's utilisation, 0 to 1.",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(performance.eventLoopUtilization().active / 1000);
      },
    });
    const sources = this.sources;
    const ledger = () => figures.read();
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
        this.inc({ outcome: 'awaiting_result' }, s.awaiting);
      },
    });
    new Gauge({
      name: 'lienthong_sync_backlog',
      help: 'Ledger entities not yet synced, by state (all instances; PENDING, RETRYING, REJECTED, AWAITING_RESULT, SUPPLEMENT_REQUESTED). Read at most every METRICS_REFRESH_MS.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const figures = await ledger();
        this.reset();
        for (const [state, n] of Object.entries(figures.backlog)) this.set({ state }, n);
      },
    });
    const single: Array<[name: string, help: string, pick: (f: LedgerFigures) => number]> = [
      [
        'lienthong_sync_oldest_pending_seconds',
        'Age of the oldest change not yet at the portal (PENDING or RETRYING); 0 when none.',
        (f) => f.oldestPendingSeconds ?? 0,
      ],
      [
        'lienthong_sync_oldest_awaiting_seconds',
        'Two-phase targets: how long the oldest accepted submission has waited for the portal to answer; 0 when none waits.',
        (f) => f.oldestAwaitingSeconds ?? 0,
      ],
      [
        'lienthong_sync_parts_possibly_duplicated',
        'Parts (dossier steps) the portal took after an earlier send with an unknown outcome (timeout, crash): they may be there twice; the portal cannot be asked.',
        (f) => f.partsPossiblyDuplicated,
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
