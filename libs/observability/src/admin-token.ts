import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * Express middleware for a simulator's control endpoints (portal-sim's /admin, commune-sim's
 * PUT /traffic): nothing there is reachable without `Authorization: Bearer <token>`. An empty
 * token turns the endpoints off (403). Refusals are problem details; the token is never logged.
 */
export function adminTokenMiddleware(token: string, variable: string) {
  const expected = Buffer.from(token);
  return (req: Request, res: Response, next: NextFunction): void => {
    const refuse = (status: number, detail: string) =>
      void res
        .status(status)
        .type('application/problem+json')
        .send(
          JSON.stringify({
            type: 'about:blank',
            title: status === 401 ? 'Not authenticated' : 'Forbidden',
            status,
            detail,
          }),
        );
    if (expected.length === 0) {
      refuse(403, `the admin endpoints are off: set ${variable} to use them`);
      return;
    }
    const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      refuse(401, `Authorization: the admin bearer token (${variable}) is required`);
      return;
    }
    next();
  };
}
