import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { TOPICS } from '@lienthong/contracts';
import { TransactionalBatchContext } from '@lienthong/messaging';
import type { ConsumedEvent } from '@lienthong/messaging';
import { withTrace } from '@lienthong/observability';
import { LedgerIngest, eventKey } from '@lienthong/sync-engine';
import { ROOT_LOGGER } from '../../config/tokens';
import { SyncMetrics } from '../metrics/sync.metrics';
import { dossierLedgerItem } from './dossier-ledger-item';

/**
 * Ingest (docs/architecture.md, step 1): a partition's valid dossier events, in offset order, go into the
 * ledger inside the consumer's transaction — the offsets commit with them, or neither does.
 */
@Controller()
export class DossierEventsController {
  constructor(
    private readonly ingest: LedgerIngest,
    private readonly metrics: SyncMetrics,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  @EventPattern(TOPICS.communeDossierEvents)
  async onBatch(
    @Payload() events: ConsumedEvent[],
    @Ctx() ctx: TransactionalBatchContext,
  ): Promise<void> {
    const report = await this.ingest.ingest(ctx.getTransaction(), events.map(dossierLedgerItem));
    // Events that contradict the ledger (another commune's entity, a reused event id) go to the DLQ.
    for (const [index, refusal] of report.refusals)
      ctx.reject(events[index] as ConsumedEvent, refusal);
    ctx.afterCommit(() => this.metrics.countIngest(report));
    if (this.logger.isLevelEnabled('debug')) {
      for (const { event, offset } of events) {
        withTrace(event.envelope.traceparent, () =>
          this.logger.debug(
            {
              eventId: event.envelope.id,
              subject: event.envelope.subject,
              sequence: event.envelope.sequence,
              partition: ctx.getPartition(),
              offset,
              outcome: report.outcomes.get(
                eventKey({ source: event.envelope.source, eventId: event.envelope.id }),
              ),
            },
            'dossier event ingested',
          ),
        );
      }
    }
  }
}
