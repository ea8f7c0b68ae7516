import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';

export type BreakerState = 'closed' | 'half-open' | 'open';
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};

/** Prometheus metrics of portal calls: a breaker state gauge (not only counters) and durations. */
export class ResilienceMetrics {
  readonly breakerState: Gauge<'target' | 'operation'>;
  readonly breakerTransitions: Counter<'target' | 'operation' | 'to'>;
  readonly callDuration: Histogram<'target' | 'operation' | 'outcome'>;
  readonly targetHeld: Gauge<'target' | 'code'>;
  readonly exchangeRecordsLost: Counter<'target'>;

  constructor(readonly registry: Registry) {
    this.breakerState = new Gauge({
      name: 'lienthong_portal_breaker_state',
      help: 'Circuit breaker state per portal target and operation: 0 closed, 1 half-open, 2 open.',
      labelNames: ['target', 'operation'],
      registers: [registry],
    });
    this.breakerTransitions = new Counter({
      name: 'lienthong_portal_breaker_transitions_total',
      help: 'Circuit breaker state changes.',
      labelNames: ['target', 'operation', 'to'],
      registers: [registry],
    });
    this.callDuration = new Histogram({
      name: 'lienthong_portal_call_duration_seconds',
      help: 'Portal call duration by target, operation and outcome (success, retriable, permanent, hold, deferred).',
      labelNames: ['target', 'operation', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.targetHeld = new Gauge({
      name: 'lienthong_portal_target_held',
      help: '1 while a target is held after a credential or endpoint failure (code = why); entities wait, nothing is rejected.',
      labelNames: ['target', 'code'],
      registers: [registry],
    });
    this.exchangeRecordsLost = new Counter({
      name: 'lienthong_exchange_records_lost_total',
      help: 'Exchange records that could not be written (buffer full during a database outage). Should stay 0.',
      labelNames: ['target'],
      registers: [registry],
    });
  }
}
