export {
  PortalCallError,
  asPortalCallError,
  surelyNotApplied,
  classifyHttpStatus,
  parseRetryAfter,
} from './portal-call.error';
export { ERROR_CLASS } from './portal-call.error';
export type {
  CallOutcome,
  ErrorClass,
  PortalCallErrorDetails,
  PortalErrorCode,
} from './portal-call.error';
export { DEFAULT_RETRY_POLICY, mayRetry, retryDelayMs } from './retry-policy';
export type { RetryPolicy } from './retry-policy';
export {
  ExchangeRecorder,
  InMemoryExchangeRecorder,
  PortalExchange1763800000100,
  PostgresExchangeRecorder,
  sha256,
} from './exchange-record';
export type { ExchangeRecord } from './exchange-record';
export { BREAKER_STATE_VALUE, ResilienceMetrics } from './resilience.metrics';
export type { BreakerState } from './resilience.metrics';
export { PortalGateway } from './portal-gateway';
export type {
  AttemptContext,
  BreakerOptions,
  BreakerStateChange,
  CallOptions,
  GatewayOptions,
  OperatorPause,
  TargetHold,
  TargetHoldChange,
  WireNote,
} from './portal-gateway';
