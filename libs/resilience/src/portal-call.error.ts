/**
 * How a portal call ended, classified once (style.md): the classification alone decides what
 * happens next — retry later, REJECTED for a person to look at, or wait for the breaker.
 */
export type CallOutcome = 'success' | 'retriable' | 'permanent' | 'breaker-open';

/** Stable codes for failed portal calls (sync.status error.code, DLQ, metrics). */
export type PortalErrorCode =
  | 'PORTAL_UNAVAILABLE'
  | 'PORTAL_TIMEOUT'
  | 'PORTAL_CONNECTION_FAILED'
  | 'PORTAL_MALFORMED_RESPONSE'
  | 'PORTAL_RATE_LIMITED'
  | 'PORTAL_AUTH_FAILED'
  /** The portal ended our session or token early: the client logs in again and repeats the call. */
  | 'PORTAL_SESSION_EXPIRED'
  | 'PORTAL_REJECTED'
  | 'PORTAL_UNKNOWN_ANSWER'
  | 'BREAKER_OPEN'
  | 'BULKHEAD_FULL';

export interface PortalCallErrorDetails {
  httpStatus?: number;
  /** The portal's own code (DVCQG error_code, civil-status maLoi, …). */
  portalCode?: string;
  /** The portal's own words: shown to operators on REJECTED; never written to exchange records. */
  portalMessage?: string;
  /** From a Retry-After header. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class PortalCallError extends Error {
  readonly outcome: Exclude<CallOutcome, 'success'>;
  readonly code: PortalErrorCode;
  readonly httpStatus?: number;
  readonly portalCode?: string;
  readonly portalMessage?: string;
  readonly retryAfterMs?: number;

  constructor(
    outcome: Exclude<CallOutcome, 'success'>,
    code: PortalErrorCode,
    message: string,
    details: PortalCallErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PortalCallError';
    this.outcome = outcome;
    this.code = code;
    this.httpStatus = details.httpStatus;
    this.portalCode = details.portalCode;
    this.portalMessage = details.portalMessage;
    this.retryAfterMs = details.retryAfterMs;
  }

  static retriable(
    code: PortalErrorCode,
    message: string,
    details?: PortalCallErrorDetails,
  ): PortalCallError {
    return new PortalCallError('retriable', code, message, details);
  }

  static permanent(
    code: PortalErrorCode,
    message: string,
    details?: PortalCallErrorDetails,
  ): PortalCallError {
    return new PortalCallError('permanent', code, message, details);
  }
}

/** Any thrown value as a classified portal error: unknown failures are retriable (domain.md §6). */
export function asPortalCallError(err: unknown): PortalCallError {
  if (err instanceof PortalCallError) return err;
  const e = err as { code?: string; name?: string; message?: string } | undefined;
  if (e?.code === 'EOPENBREAKER')
    return new PortalCallError(
      'breaker-open',
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
    return PortalCallError.retriable(
      'PORTAL_TIMEOUT',
      `portal call timed out (${e?.message ?? e?.code ?? 'timeout'})`,
      { cause: err },
    );
  }
  if (e?.code === 'ESEMLOCKED')
    return PortalCallError.retriable('BULKHEAD_FULL', 'too many calls in flight to this portal', {
      cause: err,
    });
  return PortalCallError.retriable(
    'PORTAL_CONNECTION_FAILED',
    `portal call failed: ${e?.code ?? e?.message ?? String(err)}`,
    { cause: err },
  );
}

/** HTTP status → classification, for answers without a usable business code. */
export function classifyHttpStatus(
  status: number,
  retryAfterMs?: number,
): PortalCallError | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 429)
    return PortalCallError.retriable('PORTAL_RATE_LIMITED', 'portal rate limit (429)', {
      httpStatus: status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  if (status === 401 || status === 403)
    return PortalCallError.permanent(
      'PORTAL_AUTH_FAILED',
      `portal refused our credentials (${status})`,
      { httpStatus: status },
    );
  if (status === 408 || status >= 500) {
    return PortalCallError.retriable('PORTAL_UNAVAILABLE', `portal unavailable (${status})`, {
      httpStatus: status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  return PortalCallError.permanent('PORTAL_REJECTED', `portal rejected the request (${status})`, {
    httpStatus: status,
  });
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
