import { PortalCallError } from '@lienthong/resilience';
import type { TokenCache } from './token-cache';

/**
 * Runs a call with the cached session or token; if the portal ended it early
 * (PORTAL_SESSION_EXPIRED), forgets it, gets a new one and runs the call once more. A fresh
 * session refused at once is not a session that expired: renewal cannot fix it, so the target is
 * held (PORTAL_SESSION_UNRENEWABLE) instead of every entity failing one by one.
 */
export async function withRenewal<T>(
  tokens: TokenCache,
  call: (token: string) => Promise<T>,
): Promise<T> {
  const token = await tokens.get();
  try {
    return await call(token);
  } catch (err) {
    if (!isSessionExpired(err)) throw err;
    tokens.invalidate(token);
    const renewed = await tokens.get();
    try {
      return await call(renewed);
    } catch (again) {
      if (!isSessionExpired(again)) throw again;
      tokens.invalidate(renewed);
      throw new PortalCallError(
        'PORTAL_SESSION_UNRENEWABLE',
        'the portal refused a session it had just issued',
        {
          ...(again.httpStatus !== undefined ? { httpStatus: again.httpStatus } : {}),
          cause: again,
        },
      );
    }
  }
}

function isSessionExpired(err: unknown): err is PortalCallError {
  return err instanceof PortalCallError && err.code === 'PORTAL_SESSION_EXPIRED';
}
