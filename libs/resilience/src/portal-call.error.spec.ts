import {
  ERROR_CLASS,
  PortalCallError,
  asPortalCallError,
  classifyHttpStatus,
  parseRetryAfter,
} from './portal-call.error';
import type { PortalErrorCode } from './portal-call.error';

describe('classifying portal failures', () => {
  it.each([
    [{ code: 'EOPENBREAKER' }, 'deferred:BREAKER_OPEN'],
    [{ code: 'ETIMEDOUT' }, 'retriable:PORTAL_TIMEOUT'],
    [new DOMException('signal timed out', 'TimeoutError'), 'retriable:PORTAL_TIMEOUT'],
    [{ code: 'ECONNRESET' }, 'retriable:PORTAL_CONNECTION_FAILED'],
    [{ code: 'ESEMLOCKED' }, 'retriable:BULKHEAD_FULL'],
  ])('%o → %s', (err, expected) => {
    const e = asPortalCallError(err);
    expect(`${e.outcome}:${e.code}`).toBe(expected);
  });

  it.each([
    [200, undefined],
    [429, 'retriable:PORTAL_RATE_LIMITED'],
    [503, 'retriable:PORTAL_UNAVAILABLE'],
    [500, 'retriable:PORTAL_UNAVAILABLE'],
    [408, 'retriable:PORTAL_UNAVAILABLE'],
    [401, 'hold:PORTAL_AUTH_FAILED'],
    [403, 'hold:PORTAL_AUTH_FAILED'],
    [404, 'hold:PORTAL_ENDPOINT_NOT_FOUND'],
    [405, 'hold:PORTAL_ENDPOINT_NOT_FOUND'],
    [413, 'hold:PORTAL_PAYLOAD_TOO_LARGE'],
    [415, 'hold:PORTAL_PROTOCOL_MISMATCH'],
    [400, 'permanent:PORTAL_REJECTED'],
    [409, 'permanent:PORTAL_REJECTED'],
    [422, 'permanent:PORTAL_REJECTED'],
  ])('HTTP %d → %s', (status, expected) => {
    const e = classifyHttpStatus(status);
    expect(e ? `${e.outcome}:${e.code}` : undefined).toBe(expected);
  });

  it('reads Retry-After as seconds or as a date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(
      parseRetryAfter('Wed, 02 Jul 2025 01:00:05 GMT', Date.parse('2025-07-02T01:00:00Z')),
    ).toBe(5000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('derives the class from the code alone, through the one table', () => {
    for (const code of Object.keys(ERROR_CLASS) as PortalErrorCode[])
      expect(new PortalCallError(code, 'x').outcome).toBe(ERROR_CLASS[code]);
    expect(
      Object.entries(ERROR_CLASS)
        .filter(([, c]) => c === 'hold')
        .map(([code]) => code)
        .sort(),
    ).toEqual([
      'PORTAL_AUTH_FAILED',
      'PORTAL_ENDPOINT_NOT_FOUND',
      'PORTAL_PAYLOAD_TOO_LARGE',
      'PORTAL_PROTOCOL_MISMATCH',
      'PORTAL_SESSION_UNRENEWABLE',
    ]);
  });

  it('caps a Retry-After', () => {
    const e = new PortalCallError('PORTAL_RATE_LIMITED', '429', { retryAfterMs: 86_400_000 });
    expect(e.withRetryAfterAtMost(60_000).retryAfterMs).toBe(60_000);
    expect(e.withRetryAfterAtMost(60_000).code).toBe('PORTAL_RATE_LIMITED');
  });
});
