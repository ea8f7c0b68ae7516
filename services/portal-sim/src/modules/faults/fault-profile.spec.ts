import { TokenBucket, decide } from './fault-profile';

const never = () => 0.999;

describe('fault decisions', () => {
  it('a healthy profile passes every call', () => {
    expect(decide({}, Date.now(), Math.random)).toEqual({ kind: 'pass', delayMs: 0 });
  });

  it('an outage window answers unavailable inside it only', () => {
    const profile = { outages: [{ from: '2025-07-02T01:00:00Z', to: '2025-07-02T01:00:30Z' }] };
    expect(decide(profile, Date.parse('2025-07-02T01:00:10Z'), never).kind).toBe('unavailable');
    expect(decide(profile, Date.parse('2025-07-02T01:00:30Z'), never).kind).toBe('pass');
  });

  it('picks failure kinds by their rates', () => {
    const profile = { errorRates: { http5xx: 0.1, timeout: 0.1, reset: 0.1, malformed: 0.1 } };
    expect(decide(profile, 0, () => 0.05).kind).toBe('http5xx');
    expect(decide(profile, 0, () => 0.15).kind).toBe('timeout');
    expect(decide(profile, 0, () => 0.25).kind).toBe('reset');
    expect(decide(profile, 0, () => 0.35).kind).toBe('malformed');
    expect(decide(profile, 0, () => 0.45).kind).toBe('pass');
  });

  it('rate-limits per client with a Retry-After in whole seconds', () => {
    const bucket = new TokenBucket(2, 2, 0);
    expect(decide({}, 0, never, bucket).kind).toBe('pass');
    expect(decide({}, 0, never, bucket).kind).toBe('pass');
    expect(decide({}, 0, never, bucket)).toEqual({ kind: 'rate-limited', retryAfterSeconds: 1 });
    expect(decide({}, 600, never, bucket).kind).toBe('pass');
  });
});
