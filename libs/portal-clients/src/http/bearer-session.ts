import { PortalCallError } from '@lienthong/resilience';
import type { AttemptContext, PortalGateway } from '@lienthong/resilience';
import { TokenCache } from './token-cache';

/**
 * Calls an API with a cached bearer token; a 401 (token ended early, server-side) renews the token
 * once and repeats the call, so the caller sees no failure.
 */
export class BearerSession {
  private readonly tokens: TokenCache;

  constructor(
    private readonly gateway: PortalGateway,
    fetchToken: (ctx: AttemptContext) => Promise<{ token: string; expiresInSeconds: number }>,
  ) {
    this.tokens = new TokenCache(() =>
      this.gateway.call('token', fetchToken, { correlationId: `token-${Date.now()}`, retry: true }),
    );
  }

  async call<T>(
    operation: string,
    correlationId: string,
    fn: (ctx: AttemptContext, bearer: string) => Promise<T>,
  ): Promise<T> {
    for (let renewal = 0; ; renewal += 1) {
      const token = await this.tokens.get();
      try {
        return await this.gateway.call(
          operation,
          async (ctx) => {
            try {
              return await fn(ctx, `Bearer ${token}`);
            } catch (err) {
              if (err instanceof PortalCallError && err.httpStatus === 401) {
                throw PortalCallError.permanent('PORTAL_SESSION_EXPIRED', 'token refused', {
                  httpStatus: 401,
                });
              }
              throw err;
            }
          },
          { correlationId },
        );
      } catch (err) {
        if (
          err instanceof PortalCallError &&
          err.code === 'PORTAL_SESSION_EXPIRED' &&
          renewal === 0
        ) {
          this.tokens.invalidate(token);
          continue;
        }
        throw err;
      }
    }
  }
}
