import {
  ContractValidator,
  EVENT_TYPES,
  TOPICS,
  describeFailure,
  encodeEvent,
} from '@lienthong/contracts';
import type { ReconcileProgressV1 } from '@lienthong/contracts';
import type { OutboxProducer } from './outbox-relay';
import { driftRateUpperBound } from './reconcile-runs';
import type { RunProgress } from './reconcile-runs';

/** The message of a run's progress (counts only), as sync.reconcile.v1 carries it. */
export function reconcileProgressMessage(
  service: string,
  target: ReconcileProgressV1['target'],
  p: RunProgress,
): ReconcileProgressV1 {
  return {
    service,
    target,
    id: p.id,
    tier: p.tier,
    status: p.status,
    dryRun: p.dryRun,
    total: p.total,
    checked: p.checked,
    matched: p.matched,
    missing: p.missing,
    drifted: p.drifted,
    inFlux: p.inFlux,
    repaired: p.repaired,
    verified: p.verified,
    rate: p.rate,
    etaSeconds: p.etaSeconds,
    driftRateUpperBound: p.sample
      ? driftRateUpperBound(p.missing + p.drifted, p.checked - p.inFlux)
      : null,
    startedAt: p.startedAt,
    finishedAt: p.finishedAt,
    reportedAt: new Date().toISOString(),
  };
}

/**
 * Publishes reconciliation progress on sync.reconcile.v1, keyed by run id (the last message of a
 * run is its summary). Like health, a snapshot: straight to Kafka, the next report replaces a lost
 * one (the end of a run is also in the logs and in reconcile_run).
 */
export class ReconcileProgressPublisher {
  private readonly validator: ContractValidator;

  constructor(
    private readonly options: {
      producer: OutboxProducer;
      service: string;
      target: ReconcileProgressV1['target'];
      topic?: string;
      validator?: ContractValidator;
    },
  ) {
    this.validator = options.validator ?? new ContractValidator();
  }

  async publish(progress: RunProgress): Promise<void> {
    const o = this.options;
    const message = reconcileProgressMessage(o.service, o.target, progress);
    const valid = this.validator.validate(EVENT_TYPES.ReconcileProgress, message);
    if (!valid.ok)
      throw new Error(`reconciliation progress invalid: ${describeFailure(valid.failure)}`);
    await o.producer.send(o.topic ?? TOPICS.syncReconcile, [
      encodeEvent(EVENT_TYPES.ReconcileProgress, message, {
        source: `/lienthong/${o.service}`,
        subject: progress.id,
        time: message.reportedAt,
      }),
    ]);
  }
}
