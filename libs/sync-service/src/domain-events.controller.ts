import { Controller, Inject } from '@nestjs/common';
import type { Type } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { TransactionalBatchContext } from '@lienthong/messaging';
import type { ConsumedEvent } from '@lienthong/messaging';
import { withTrace } from '@lienthong/observability';
import { LedgerIngest, eventKey } from '@lienthong/sync-engine';
import type { SyncDomain } from './sync-domain';
import { SyncMetrics } from './sync.metrics';
import { ROOT_LOGGER, SYNC_DOMAIN } from './tokens';

/**
 * Ingest (docs/architecture.md, step 1): the valid events of one or more partitions (each
 * partition's in offset order; KAFKA_RECORDS_PER_TRANSACTION) go into the ledger inside the
 * consumer's transaction — the offsets commit with them, or neither does.
 * Events that contradict the ledger (another commune's entity, a reused event id) go to the DLQ.
 */
export function domainEventsController(contractTopic: string): Type {
  @Controller()
  class DomainEventsController {
    constructor(
      private readonly ingest: LedgerIngest,
      private readonly metrics: SyncMetrics,
      @Inject(SYNC_DOMAIN) private readonly domain: SyncDomain,
      @Inject(ROOT_LOGGER) private readonly logger: Logger,
    ) {}

    @EventPattern(contractTopic)
    async onBatch(
      @Payload() events: ConsumedEvent[],
      @Ctx() ctx: TransactionalBatchContext,
    ): Promise<void> {
      const items = events.map((e) => this.domain.ledgerItem(e));
      const report = await this.ingest.ingest(ctx.getTransaction(), items);
      for (const [index, refusal] of report.refusals)
        ctx.reject(events[index] as ConsumedEvent, refusal);
      ctx.afterCommit(() => this.metrics.countIngest(report));
      if (!this.logger.isLevelEnabled('debug')) return;
      for (const { event, partition, offset } of events)
        withTrace(event.envelope.traceparent, () =>
          this.logger.debug(
            {
              eventId: event.envelope.id,
              subject: event.envelope.subject,
              sequence: event.envelope.sequence,
              partition,
              offset,
              outcome: report.outcomes.get(
                eventKey({ source: event.envelope.source, eventId: event.envelope.id }),
              ),
            },
            'event ingested',
          ),
        );
    }
  }
  return DomainEventsController;
}
