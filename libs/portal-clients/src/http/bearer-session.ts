import { PortalCallError } from '@lienthong/resilience';
import type { AttemptContext, PortalGateway } from '@lienthong/resilience';
import { withRenewal } from './renew-once';
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

  call<T>(
    operation: string,
    correlationId: string,
    fn: (ctx: AttemptContext, bearer: string) => Promise<T>,
  ): Promise<T> {
    return withRenewal(this.tokens, (token) =>
      this.gateway.call(
        operation,
        async (ctx) => {
          try {
            return await fn(ctx, `Bearer ${token}`);
          } catch (err) {
            // A 401 on a token we believed valid: it was ended server-side.
            if (err instanceof PortalCallError && err.httpStatus === 401) {
              throw new PortalCallError('PORTAL_SESSION_EXPIRED', 'token refused', {
                httpStatus: 401,
              });
            }
            throw err;
          }
        },
        { correlationId },
      ),
    );
  }
}
