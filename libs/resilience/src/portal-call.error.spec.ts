import { asPortalCallError, classifyHttpStatus, parseRetryAfter } from './portal-call.error';

describe('classifying portal failures', () => {
  it.each([
    [{ code: 'EOPENBREAKER' }, 'breaker-open:BREAKER_OPEN'],
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
    [401, 'permanent:PORTAL_AUTH_FAILED'],
    [400, 'permanent:PORTAL_REJECTED'],
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
});
