import { PortalCallError } from '@lienthong/resilience';
import type { TokenCache } from './token-cache';

/**
 * Runs a call with the cached session or token; if the portal ended it early
 * (PORTAL_SESSION_EXPIRED), forgets it, gets a new one and runs the call once more.
 */
export async function withRenewal<T>(
  tokens: TokenCache,
  call: (token: string) => Promise<T>,
): Promise<T> {
  const token = await tokens.get();
  try {
    return await call(token);
  } catch (err) {
    if (!(err instanceof PortalCallError) || err.code !== 'PORTAL_SESSION_EXPIRED') throw err;
    tokens.invalidate(token);
    return call(await tokens.get());
  }
}
