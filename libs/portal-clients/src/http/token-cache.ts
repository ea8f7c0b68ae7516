/**
 * A session or bearer token shared by all calls of a client: fetched once, refreshed shortly
 * before it expires, and never by two callers at once (a single refresh in flight).
 */
export class TokenCache {
  private current: { token: string; refreshAt: number } | undefined;
  private inflight: Promise<string> | undefined;

  constructor(
    private readonly fetchToken: () => Promise<{ token: string; expiresInSeconds: number }>,
    /** Refresh this long before expiry (at most half the token's life). */
    private readonly refreshMarginMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    if (this.current && this.now() < this.current.refreshAt) return this.current.token;
    return this.refresh();
  }

  /** The portal refused `token` (ended server-side): forget it, unless a newer one is cached. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private refresh(): Promise<string> {
    this.inflight ??= this.fetchToken()
      .then(({ token, expiresInSeconds }) => {
        const lifeMs = expiresInSeconds * 1000;
        this.current = {
          token,
          refreshAt: this.now() + lifeMs - Math.min(this.refreshMarginMs, lifeMs / 2),
        };
        return token;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}
