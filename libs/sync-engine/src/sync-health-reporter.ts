import {
  ContractValidator,
  EVENT_TYPES,
  TOPICS,
  describeFailure,
  encodeEvent,
} from '@lienthong/contracts';
import type { SyncHealthV2 } from '@lienthong/contracts';
import type { LedgerFiguresReader } from './ledger-figures';
import type { OutboxProducer } from './outbox-relay';

export type SyncHealthReport = SyncHealthV2;
type BreakerState = SyncHealthReport['breaker']['state'];

/** What a portal gateway tells about its target (structural: PortalGateway fits). */
export interface TargetHealthSource {
  readonly target: string;
  targetState(): BreakerState;
  breakerStates(): Array<{ operation: string; state: BreakerState }>;
  targetHold(): { code: string; message: string; since: Date; until: Date } | undefined;
  retryAfterUntil(): Date | undefined;
  readonly lastSuccessAt: Date | undefined;
  readonly lastFailureAt: Date | undefined;
}

export interface SyncHealthReporterOptions {
  producer: OutboxProducer;
  validator?: ContractValidator;
  /** The reporting service, e.g. dossier-sync; with instance and target, the message key. */
  service: string;
  instance: string;
  gateway: TargetHealthSource;
  ledger: LedgerFiguresReader;
  /** Messages behind the end of the consumed topic, or undefined when the broker cannot say. */
  consumerLag: () => Promise<number | undefined>;
  exchangeRecords: () => { pending: number; lost: number };
  /** An operator paused pushes to the target (ops commands, later). */
  paused?: () => boolean;
  intervalMs: number;
  /** Defaults to sync.health.v2. */
  topic?: string;
  onError?: (err: unknown) => void;
}

const MESSAGE_MAX = 500;

/**
 * Publishes sync.health.v2 for one (service, instance, target) every `intervalMs`, and soon after
 * a change (`changed()`: a breaker opened, a hold began or lifted), so an operator sees why a
 * target is not being called without scraping every instance. Health is a snapshot, not a fact
 * to keep: it goes straight to Kafka (no outbox); a report that cannot be sent is logged and the
 * next one replaces it.
 */
export class SyncHealthReporter {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private readonly validator: ContractValidator;
  sent = 0;

  constructor(private readonly options: SyncHealthReporterOptions) {
    this.validator = options.validator ?? new ContractValidator();
  }

  async snapshot(): Promise<SyncHealthReport> {
    const o = this.options;
    const g = o.gateway;
    const [figures, lag] = await Promise.all([
      o.ledger.read(),
      o.consumerLag().catch(() => undefined),
    ]);
    const hold = g.targetHold();
    const iso = (d: Date | undefined) => d?.toISOString() ?? null;
    return {
      service: o.service,
      instance: o.instance,
      target: g.target as SyncHealthReport['target'],
      breaker: { state: g.targetState(), operations: g.breakerStates().slice(0, 50) },
      hold: hold
        ? {
            code: hold.code,
            message: hold.message.slice(0, MESSAGE_MAX),
            since: hold.since.toISOString(),
            nextProbeAt: hold.until.toISOString(),
          }
        : null,
      retryAfterUntil: iso(g.retryAfterUntil()),
      paused: o.paused?.() ?? false,
      backlog: {
        pending: figures.backlog.PENDING,
        retrying: figures.backlog.RETRYING,
        rejected: figures.backlog.REJECTED,
      },
      oldestPendingAgeSeconds: figures.oldestPendingSeconds,
      consumerLag: lag ?? null,
      exchangeRecords: o.exchangeRecords(),
      lastSuccessAt: iso(g.lastSuccessAt),
      lastFailureAt: iso(g.lastFailureAt),
      reportedAt: new Date().toISOString(),
    };
  }

  /** Builds, validates and sends one report. */
  async report(): Promise<SyncHealthReport> {
    const report = await this.snapshot();
    const valid = this.validator.validate(EVENT_TYPES.SyncHealthV2, report);
    if (!valid.ok) throw new Error(`health report invalid: ${describeFailure(valid.failure)}`);
    const key = `${report.service}:${report.instance}:${report.target}`;
    const message = encodeEvent(EVENT_TYPES.SyncHealthV2, report, {
      source: `/lienthong/${report.service}`,
      subject: key,
      time: report.reportedAt,
    });
    await this.options.producer.send(this.options.topic ?? TOPICS.syncHealthV2, [message]);
    this.sent += 1;
    return report;
  }

  private run(): void {
    if (this.sending) return;
    this.sending = this.report()
      .then(() => undefined)
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => {
        this.sending = undefined;
      });
  }

  start(): void {
    if (this.timer) return;
    this.run();
    this.timer = setInterval(() => this.run(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Something an operator should see changed: report within a second rather than at the next tick. */
  changed(): void {
    if (!this.timer || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.run();
    }, 1000);
    this.soon.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.soon);
    this.timer = undefined;
    this.soon = undefined;
    await this.sending;
  }
}
