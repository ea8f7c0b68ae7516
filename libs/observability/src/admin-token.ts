import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * Why a request may not use endpoints guarded by a shared bearer token (a simulator's controls,
 * a service's internal API), or undefined when it may. An empty token turns the endpoints off
 * (403); a missing or wrong one is a 401. The token is compared in constant time, never logged.
 */
export function bearerRefusal(
  authorization: string | undefined,
  token: string,
  variable: string,
): { status: 401 | 403; detail: string } | undefined {
  if (token.length === 0)
    return { status: 403, detail: `these endpoints are off: set ${variable} to use them` };
  const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
  if (!sameSecret(given, token))
    return { status: 401, detail: `Authorization: the bearer token (${variable}) is required` };
  return undefined;
}

/** Whether a presented secret is the expected one, compared in constant time. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Express middleware for a simulator's control endpoints (portal-sim's /admin, commune-sim's
 * PUT /traffic): nothing there is reachable without `Authorization: Bearer <token>`; refusals are
 * problem details.
 */
export function adminTokenMiddleware(token: string, variable: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const refused = bearerRefusal(req.headers.authorization, token, variable);
    if (!refused) {
      next();
      return;
    }
    res
      .status(refused.status)
      .type('application/problem+json')
      .send(
        JSON.stringify({
          type: 'about:blank',
          title: refused.status === 401 ? 'Not authenticated' : 'Forbidden',
          status: refused.status,
          detail: refused.detail,
        }),
      );
  };
}
