import type { EncodedRecord } from '@lienthong/contracts';
import type { CommuneTraffic, DueRecord, TrafficDomain, TrafficStats } from '@lienthong/simulation';
import type { Logger } from 'pino';

/** Where records go: the process's idempotent producer in the service, a recorder in unit tests. */
export interface RecordSink {
  send(topic: string, records: EncodedRecord[]): Promise<unknown>;
}

export interface PublishStats {
  /** Records Kafka acknowledged. */
  published: number;
  /** Records due but not yet acknowledged (Kafka unreachable): kept and retried, never dropped. */
  unpublished: number;
  /** The last send failure, while sends fail. */
  lastError: string | null;
}

/**
 * Plays a CommuneTraffic against the real clock: at each due time, hands the records to the sink
 * in one send. A failed send keeps its records (in order) and retries them first next time, so a
 * Kafka outage delays commune traffic the way a real commune system's outbox would, and loses
 * nothing. `stop()` stops arrivals and flushes what is already due.
 */
export class CommuneTrafficRunner {
  private readonly backlog: DueRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private running = false;
  private readonly counts: Omit<PublishStats, 'unpublished'> = { published: 0, lastError: null };

  constructor(
    private readonly traffic: CommuneTraffic,
    private readonly sink: RecordSink,
    /** The topic of each domain's records. */
    private readonly topics: Record<TrafficDomain, string>,
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
    /** Longest wait between ticks, so a rate change or a retry is picked up promptly. */
    private readonly maxWaitMs = 1_000,
  ) {}

  get stats(): TrafficStats &
    PublishStats & {
      dossiersPerMinute: number;
      civilStatusPerMinute: number;
      landPerMinute: number;
    } {
    const rates = this.traffic.rates;
    return {
      ...this.traffic.stats,
      ...this.counts,
      unpublished: this.backlog.length,
      dossiersPerMinute: rates.dossier,
      civilStatusPerMinute: rates['civil-status'],
      landPerMinute: rates.land,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** New arrival rates per minute, by domain (those left out keep theirs). */
  setRates(rates: Partial<Record<TrafficDomain, number>>): void {
    this.traffic.setRates(rates, Date.now());
    this.logger.info({ rates }, 'commune traffic rate changed');
    if (this.running) this.schedule(0);
  }

  /**
   * Publishes what is due. Ticks run one after another (a timer tick and a rate change must never
   * send the same backlog twice, nor splice away what the other has not sent).
   */
  tick(now?: number): Promise<void> {
    const next = this.ticking.then(() => this.publishDue(now ?? Date.now()));
    this.ticking = next.catch(() => undefined);
    return next;
  }

  private async publishDue(now: number): Promise<void> {
    this.backlog.push(...this.traffic.due(now));
    if (this.backlog.length === 0) return;
    const batch = this.backlog.slice(0, 500);
    // One send per topic, in backlog order within each (an entity's records keep their order).
    const sent = new Set<DueRecord>();
    try {
      for (const domain of ['dossier', 'civil-status', 'land'] as const) {
        const group = batch.filter((d) => d.domain === domain);
        if (group.length === 0) continue;
        await this.sink.send(
          this.topics[domain],
          group.map((d) => d.record),
        );
        for (const d of group) sent.add(d);
      }
      if (this.counts.lastError) this.logger.info('publishing again');
      this.counts.lastError = null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.counts.lastError === null)
        this.logger.warn(
          { err: message, unpublished: this.backlog.length - sent.size },
          'cannot publish commune events; keeping them and retrying',
        );
      this.counts.lastError = message;
    } finally {
      if (sent.size > 0) {
        const kept = this.backlog.filter((d) => !sent.has(d));
        this.backlog.splice(0, this.backlog.length, ...kept);
        this.counts.published += sent.size;
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.traffic.setRates({ dossier: 0, 'civil-status': 0, land: 0 }, Date.now());
    // Whatever is already due goes out (a few tries: the backlog leaves 500 records per send);
    // dossiers further along their lifecycle stay unplayed.
    for (let tries = 0; tries < 5; tries += 1) {
      await this.tick();
      if (this.backlog.length === 0) break;
    }
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.tick().then(() => {
        if (!this.running) return;
        const wait = this.backlog.length > 0 ? 200 : this.traffic.msUntilNext(Date.now());
        this.schedule(Math.min(this.maxWaitMs, wait));
      });
    }, ms);
  }
}
