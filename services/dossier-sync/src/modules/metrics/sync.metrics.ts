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
export class SyncMetrics {
  readonly registry = new Registry();
  readonly ingested: Counter<'outcome'>;
  /** Where the counters read from at scrape time (set once the consumer and dispatcher exist). */
  private readonly sources: {
    consumer: () => ConsumerStats | undefined;
    dispatch: DispatchStats | undefined;
  } = { consumer: () => undefined, dispatch: undefined };

  constructor(dataSource: DataSource, service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    const sources = this.sources;
    new Counter({
      name: 'lienthong_events_consumed_total',
      help: 'Events read from the commune topic: applied (valid, in a committed batch), dead_lettered (invalid, sent to the DLQ), skipped (redelivered below the stored offset).',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        const s = sources.consumer();
        this.reset();
        if (!s) return;
        this.inc({ result: 'applied' }, s.applied);
        this.inc({ result: 'dead_lettered' }, s.deadLettered);
        this.inc({ result: 'skipped' }, s.skipped);
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
      },
    });
    new Gauge({
      name: 'lienthong_sync_backlog',
      help: 'Ledger entities by sync state (all instances).',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const rows = await dataSource.query<Array<{ state: string; n: string }>>(
          'select state, count(*) n from sync_entity group by state',
        );
        this.reset();
        for (const state of ['PENDING', 'RETRYING', 'SYNCED', 'REJECTED'])
          this.set({ state }, Number(rows.find((r) => r.state === state)?.n ?? 0));
      },
    });
    new Gauge({
      name: 'lienthong_sync_oldest_pending_seconds',
      help: 'Age of the oldest change not yet at the portal (PENDING or RETRYING); 0 when none.',
      registers: [this.registry],
      async collect() {
        const [row] = await dataSource.query<Array<{ age: number | null }>>(
          `select extract(epoch from now() - min(pending_since))::float8 age from sync_entity where state in ('PENDING', 'RETRYING')`,
        );
        this.set(row?.age ?? 0);
      },
    });
    new Gauge({
      name: 'lienthong_outbox_unpublished',
      help: 'sync.status events written but not yet published to Kafka.',
      registers: [this.registry],
      async collect() {
        const [row] = await dataSource.query<Array<{ n: string }>>(
          'select count(*) n from outbox where published_at is null',
        );
        this.set(Number(row?.n ?? 0));
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
