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

/**
 * A sample run's drift rate bound at 95 % (differences found in the checks that could be made);
 * null for a full run.
 */
export function sampleDriftBound(p: RunProgress): number | null {
  return p.sample ? driftRateUpperBound(p.missing + p.drifted, p.checked - p.inFlux) : null;
}

/** The message of a run's progress (counts only), as sync.reconcile.v1 carries it. */
export function reconcileProgressMessage(
  service: string,
  target: ReconcileProgressV1['target'],
  p: RunProgress,
): ReconcileProgressV1 {
  const { sample: _sample, ...run } = p;
  return {
    service,
    target,
    ...run,
    driftRateUpperBound: sampleDriftBound(p),
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
