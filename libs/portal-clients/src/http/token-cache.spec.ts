import { TokenCache } from './token-cache';

describe('TokenCache', () => {
  it('fetches once for concurrent callers and reuses the token until shortly before expiry', async () => {
    let now = 0;
    let fetches = 0;
    const cache = new TokenCache(
      () => Promise.resolve({ token: `t${++fetches}`, expiresInSeconds: 100 }),
      10_000,
      () => now,
    );
    expect(await Promise.all([cache.get(), cache.get(), cache.get()])).toEqual(['t1', 't1', 't1']);
    now = 89_000;
    expect(await cache.get()).toBe('t1');
    now = 90_000;
    expect(await cache.get()).toBe('t2');
    expect(fetches).toBe(2);
  });

  it('refreshes at half-life for tokens shorter than twice the margin', async () => {
    let now = 0;
    let fetches = 0;
    const cache = new TokenCache(
      () => Promise.resolve({ token: `t${++fetches}`, expiresInSeconds: 2 }),
      30_000,
      () => now,
    );
    await cache.get();
    now = 999;
    expect(await cache.get()).toBe('t1');
    now = 1000;
    expect(await cache.get()).toBe('t2');
  });

  it('forgets a token the portal refused, but not a newer one', async () => {
    let fetches = 0;
    const cache = new TokenCache(() =>
      Promise.resolve({ token: `t${++fetches}`, expiresInSeconds: 3600 }),
    );
    await cache.get();
    cache.invalidate('t0');
    expect(await cache.get()).toBe('t1');
    cache.invalidate('t1');
    expect(await cache.get()).toBe('t2');
  });
});
