/**
 * How a portal call ended. What happens next is decided by the error code alone, through ONE
 * table (ERROR_CLASS below, style.md): never by the code that throws.
 *
 * - retriable: the portal may take it later (outage, timeout, 429): retry with backoff.
 * - permanent: the portal refused this entity's content: REJECTED, a person must look.
 * - hold: nothing is wrong with the entity; the target itself is unusable (our credentials, an
 *   endpoint that is gone, a proxy refusing the size): every entity waits, the target is held and
 *   probed until it works again.
 * - deferred: the portal was not called at all (breaker open, target held or paused, shutting
 *   down): not an attempt; the entity waits and nothing is counted against it.
 */
export type CallOutcome = 'success' | ErrorClass;
export type ErrorClass = 'retriable' | 'permanent' | 'hold' | 'deferred';

/** Stable codes for failed portal calls (sync.status error.code, exchange records, metrics). */
export type PortalErrorCode =
  | 'PORTAL_UNAVAILABLE'
  | 'PORTAL_TIMEOUT'
  | 'PORTAL_CONNECTION_FAILED'
  | 'PORTAL_MALFORMED_RESPONSE'
  | 'PORTAL_RATE_LIMITED'
  | 'PORTAL_UNKNOWN_ANSWER'
  /** The portal ended our session or token early: the client logs in again and repeats the call once. */
  | 'PORTAL_SESSION_EXPIRED'
  | 'BULKHEAD_FULL'
  | 'PORTAL_REJECTED'
  /** Our credentials were refused (login refused, 401/403). */
  | 'PORTAL_AUTH_FAILED'
  /** A new session was refused again at once: renewal cannot fix it. */
  | 'PORTAL_SESSION_UNRENEWABLE'
  /** 404/405/410 of the endpoint itself: the URL or the API version is wrong. */
  | 'PORTAL_ENDPOINT_NOT_FOUND'
  /** 413 (usually a proxy in front of the portal): no request of ours gets through until it is configured. */
  | 'PORTAL_PAYLOAD_TOO_LARGE'
  /** 406/415: the portal does not speak the format we send. */
  | 'PORTAL_PROTOCOL_MISMATCH'
  | 'BREAKER_OPEN'
  /** The target is held after a credential or endpoint failure; a probe call tests it now and then. */
  | 'TARGET_HELD'
  /** The portal asked us to wait (Retry-After): no call before then. */
  | 'TARGET_PAUSED'
  | 'GATEWAY_STOPPED';

/** The one classification table. Exhaustive: a new code does not compile until it is classified here. */
export const ERROR_CLASS: { readonly [C in PortalErrorCode]: ErrorClass } = {
  PORTAL_UNAVAILABLE: 'retriable',
  PORTAL_TIMEOUT: 'retriable',
  PORTAL_CONNECTION_FAILED: 'retriable',
  PORTAL_MALFORMED_RESPONSE: 'retriable',
  PORTAL_RATE_LIMITED: 'retriable',
  // An answer we do not know: try again later rather than lose the change (domain.md §6).
  PORTAL_UNKNOWN_ANSWER: 'retriable',
  PORTAL_SESSION_EXPIRED: 'retriable',
  BULKHEAD_FULL: 'retriable',
  PORTAL_REJECTED: 'permanent',
  PORTAL_AUTH_FAILED: 'hold',
  PORTAL_SESSION_UNRENEWABLE: 'hold',
  PORTAL_ENDPOINT_NOT_FOUND: 'hold',
  PORTAL_PAYLOAD_TOO_LARGE: 'hold',
  PORTAL_PROTOCOL_MISMATCH: 'hold',
  BREAKER_OPEN: 'deferred',
  TARGET_HELD: 'deferred',
  TARGET_PAUSED: 'deferred',
  GATEWAY_STOPPED: 'deferred',
};

export interface PortalCallErrorDetails {
  httpStatus?: number;
  /** The portal's own code (DVCQG error_code, civil-status maLoi, …). */
  portalCode?: string;
  /** The portal's own words: kept for operators in the ledger; never written to exchange records. */
  portalMessage?: string;
  /** From a Retry-After header (capped by the gateway). */
  retryAfterMs?: number;
  cause?: unknown;
}

export class PortalCallError extends Error {
  /** Derived from the code by ERROR_CLASS, never chosen by the thrower. */
  readonly outcome: ErrorClass;
  readonly code: PortalErrorCode;
  readonly httpStatus?: number;
  readonly portalCode?: string;
  readonly portalMessage?: string;
  readonly retryAfterMs?: number;

  constructor(code: PortalErrorCode, message: string, details: PortalCallErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PortalCallError';
    this.code = code;
    this.outcome = ERROR_CLASS[code];
    this.httpStatus = details.httpStatus;
    this.portalCode = details.portalCode;
    this.portalMessage = details.portalMessage;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** The same error with Retry-After bounded (a portal asking for a day is not waited on for a day). */
  withRetryAfterAtMost(maxMs: number): PortalCallError {
    if (this.retryAfterMs === undefined || this.retryAfterMs <= maxMs) return this;
    return new PortalCallError(this.code, this.message, {
      ...this.details(),
      retryAfterMs: maxMs,
    });
  }

  private details(): PortalCallErrorDetails {
    return {
      ...(this.httpStatus !== undefined ? { httpStatus: this.httpStatus } : {}),
      ...(this.portalCode !== undefined ? { portalCode: this.portalCode } : {}),
      ...(this.portalMessage !== undefined ? { portalMessage: this.portalMessage } : {}),
      ...(this.cause !== undefined ? { cause: this.cause } : {}),
    };
  }
}

/** Any thrown value as a classified portal error: unknown failures are retriable (domain.md §6). */
export function asPortalCallError(err: unknown): PortalCallError {
  if (err instanceof PortalCallError) return err;
  const e = err as { code?: string; name?: string; message?: string } | undefined;
  if (e?.code === 'EOPENBREAKER')
    return new PortalCallError(
      'BREAKER_OPEN',
      'circuit breaker open: the portal is not being called',
    );
  if (
    e?.code === 'ETIMEDOUT' ||
    e?.name === 'AbortError' ||
    e?.name === 'TimeoutError' ||
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e?.code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return new PortalCallError(
      'PORTAL_TIMEOUT',
      `portal call timed out (${e?.message ?? e?.code ?? 'timeout'})`,
      { cause: err },
    );
  }
  if (e?.code === 'ESEMLOCKED')
    return new PortalCallError('BULKHEAD_FULL', 'too many calls in flight to this portal', {
      cause: err,
    });
  return new PortalCallError(
    'PORTAL_CONNECTION_FAILED',
    `portal call failed: ${e?.code ?? e?.message ?? String(err)}`,
    { cause: err },
  );
}

/** HTTP status → code, for answers without a usable business code. */
export function classifyHttpStatus(
  status: number,
  retryAfterMs?: number,
): PortalCallError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const details = { httpStatus: status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  const code: PortalErrorCode =
    status === 429
      ? 'PORTAL_RATE_LIMITED'
      : status === 401 || status === 403
        ? 'PORTAL_AUTH_FAILED'
        : status === 404 || status === 405 || status === 410
          ? 'PORTAL_ENDPOINT_NOT_FOUND'
          : status === 413
            ? 'PORTAL_PAYLOAD_TOO_LARGE'
            : status === 406 || status === 415
              ? 'PORTAL_PROTOCOL_MISMATCH'
              : status === 408 || status >= 500
                ? 'PORTAL_UNAVAILABLE'
                : 'PORTAL_REJECTED';
  return new PortalCallError(code, `portal answered HTTP ${status}`, details);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * True when the portal surely did not apply the call that failed: it was never called (deferred,
 * hold), it refused the request as a whole (a rejection, 429, 503 "come back later"), or the
 * connection was refused before anything was sent. A timeout, a reset, a 500 or an answer we
 * cannot read may come after the portal applied it: not sure.
 */
export function surelyNotApplied(error: PortalCallError): boolean {
  if (error.outcome === 'deferred' || error.outcome === 'hold') return true;
  if (error.code === 'PORTAL_REJECTED' || error.code === 'PORTAL_RATE_LIMITED') return true;
  if (error.code === 'PORTAL_UNAVAILABLE' && error.httpStatus === 503) return true;
  const cause = error.cause as { code?: string } | undefined;
  return error.code === 'PORTAL_CONNECTION_FAILED' && cause?.code === 'ECONNREFUSED';
}
