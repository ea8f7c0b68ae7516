import {
  ContractValidator,
  EVENT_TYPES,
  TOPICS,
  describeFailure,
  encodeEvent,
} from '@lienthong/contracts';
import type { CommuneIndicators } from '@lienthong/contracts';
import type { SqlExecutor } from './ledger-ingest';
import type { OutboxProducer } from './outbox-relay';

/**
 * A period of Vietnam days, both included (YYYY-MM-DD), and the day unfinished dossiers are
 * measured on (today while the period runs).
 */
export interface IndicatorPeriod {
  from: string;
  to: string;
  measuredOn: string;
}

/** What a domain computes per commune; the publisher adds who, which period and when. */
export type CommuneCounts = Omit<
  CommuneIndicators,
  'service' | 'domain' | 'period' | 'measuredOn' | 'computedAt'
>;

/** The running month in Vietnam (UTC+7, no daylight saving): its 1st to its last day, today. */
export function runningMonth(now: Date): IndicatorPeriod {
  const vn = new Date(now.getTime() + 7 * 3_600_000);
  const today = vn.toISOString().slice(0, 10);
  const last = new Date(Date.UTC(vn.getUTCFullYear(), vn.getUTCMonth() + 1, 0));
  return { from: `${today.slice(0, 8)}01`, to: last.toISOString().slice(0, 10), measuredOn: today };
}

export interface IndicatorsPublisherOptions {
  producer: OutboxProducer;
  validator?: ContractValidator;
  db: SqlExecutor;
  service: string;
  domain: CommuneIndicators['domain'];
  compute: (db: SqlExecutor, period: IndicatorPeriod) => Promise<CommuneCounts[]>;
  intervalMs: number;
  /** Defaults to sync.indicators.v1. */
  topic?: string;
  onError?: (err: unknown) => void;
}

/**
 * Publishes each commune's Decision-766 counts for the running month every `intervalMs`: the
 * domain computes them from its ledger (where the dossiers' fields are), the message carries
 * counts only. A snapshot like health: straight to Kafka, the next one replaces a lost one.
 */
export class IndicatorsPublisher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly validator: ContractValidator;
  published = 0;

  constructor(private readonly options: IndicatorsPublisherOptions) {
    this.validator = options.validator ?? new ContractValidator();
  }

  /** Computes and sends one round; the communes published. */
  async publish(now = new Date()): Promise<number> {
    const o = this.options;
    const period = runningMonth(now);
    const counts = await o.compute(o.db, period);
    const computedAt = now.toISOString();
    const messages = counts.map((c) => {
      const data: CommuneIndicators = {
        service: o.service,
        domain: o.domain,
        period: { from: period.from, to: period.to },
        measuredOn: period.measuredOn,
        ...c,
        computedAt,
      };
      const valid = this.validator.validate(EVENT_TYPES.CommuneIndicators, data);
      if (!valid.ok)
        throw new Error(`commune indicators invalid: ${describeFailure(valid.failure)}`);
      return encodeEvent(EVENT_TYPES.CommuneIndicators, valid.value, {
        source: `/lienthong/${o.service}`,
        // The commune is the message's key: a reader keeps the latest per commune and domain.
        subject: c.communeCode,
        time: computedAt,
      });
    });
    for (let i = 0; i < messages.length; i += 500)
      await o.producer.send(o.topic ?? TOPICS.syncIndicators, messages.slice(i, i + 500));
    this.published += messages.length;
    return messages.length;
  }

  private run(): void {
    if (this.running) return;
    this.running = this.publish()
      .then(() => undefined)
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => {
        this.running = undefined;
      });
  }

  start(): void {
    if (this.timer || this.options.intervalMs <= 0) return;
    this.run();
    this.timer = setInterval(() => this.run(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
