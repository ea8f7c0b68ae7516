import {
  ContractValidator,
  EVENT_TYPES,
  TOPICS,
  describeFailure,
  encodeEvent,
} from '@lienthong/contracts';
import type { PortalExchange } from '@lienthong/contracts';
import type { ExchangeRecord } from '@lienthong/resilience';
import type { OutboxProducer } from './outbox-relay';

export interface ExchangePublisherOptions {
  producer: OutboxProducer;
  validator?: ContractValidator;
  service: string;
  instance: string;
  /** Defaults to sync.exchanges.v1. */
  topic?: string;
  /** How often the buffer is sent (default 1 s). */
  intervalMs?: number;
  /** Records kept while the broker is away; beyond it they are counted in `dropped` (default 20,000). */
  maxBuffer?: number;
  onError?: (err: unknown) => void;
}

/**
 * Publishes every portal exchange record on `sync.exchanges.v1` (sync-monitor's portal charts and
 * the digests on an entity's timeline), batched every second. Telemetry, not a fact to keep: the
 * ledger's portal_exchange table is the record; a crash may lose the last second, a long broker
 * outage the records beyond `maxBuffer` — counted (`dropped`), never blocking a portal call.
 */
export class ExchangePublisher {
  private buffer: PortalExchange[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private readonly validator: ContractValidator;
  sent = 0;
  dropped = 0;

  constructor(private readonly options: ExchangePublisherOptions) {
    this.validator = options.validator ?? new ContractValidator();
  }

  /** Takes one record (a recorder's onRecord listener). */
  add(record: ExchangeRecord): void {
    if (this.buffer.length >= (this.options.maxBuffer ?? 20_000)) {
      this.dropped += 1;
      return;
    }
    this.buffer.push({
      service: this.options.service,
      instance: this.options.instance,
      target: record.target as PortalExchange['target'],
      operation: record.operation,
      correlationId: record.correlationId,
      attempt: record.attempt,
      startedAt: record.startedAt.toISOString(),
      durationMs: Math.max(0, record.endedAt.getTime() - record.startedAt.getTime()),
      outcome: record.outcome,
      ...(record.httpStatus !== undefined ? { httpStatus: record.httpStatus } : {}),
      ...(record.portalCode !== undefined ? { portalCode: record.portalCode } : {}),
      ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
      ...(record.requestSha256 !== undefined ? { requestSha256: record.requestSha256 } : {}),
      ...(record.responseSha256 !== undefined ? { responseSha256: record.responseSha256 } : {}),
    });
  }

  /** Sends what is buffered; a batch the broker refused is kept for the next round. */
  flush(): Promise<void> {
    this.sending = this.sending.then(() => this.send());
    return this.sending;
  }

  private async send(): Promise<void> {
    const batch = this.buffer;
    if (batch.length === 0) return;
    this.buffer = [];
    const messages = [];
    for (const exchange of batch) {
      const valid = this.validator.validate(EVENT_TYPES.PortalExchange, exchange);
      if (!valid.ok) {
        // A value out of the contract's bounds (an oversized portal code): counted, not sent.
        this.dropped += 1;
        this.options.onError?.(
          new Error(`portal exchange invalid: ${describeFailure(valid.failure)}`),
        );
        continue;
      }
      messages.push(
        encodeEvent(EVENT_TYPES.PortalExchange, valid.value, {
          source: `/lienthong/${exchange.service}`,
          subject: exchange.correlationId,
          time: exchange.startedAt,
        }),
      );
    }
    try {
      if (messages.length > 0)
        await this.options.producer.send(this.options.topic ?? TOPICS.syncExchanges, messages);
      this.sent += messages.length;
    } catch (err) {
      const waiting = [...batch, ...this.buffer];
      this.buffer = waiting.slice(0, this.options.maxBuffer ?? 20_000);
      this.dropped += waiting.length - this.buffer.length;
      this.options.onError?.(err);
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
