import type { NextFunction, Request, Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PortalApi } from '../effects/effects.store';
import type { FaultRegistry } from './fault-registry.service';

/** Who is calling, for per-client rate limits: the token or session, else the address. */
function clientOf(req: Request): string {
  const auth = req.headers.authorization;
  if (auth) return auth;
  const body = req.body as { session?: unknown; username?: unknown } | undefined;
  if (typeof body?.session === 'string') return `session:${body.session}`;
  if (typeof body?.username === 'string') return `user:${body.username}`;
  return req.ip ?? 'unknown';
}

/** Applies the API's fault profile before the real handler runs. */
export function faultMiddleware(api: PortalApi, registry: FaultRegistry) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const decision = registry.decide(api, clientOf(req));
    if ('delayMs' in decision && decision.delayMs > 0) await sleep(decision.delayMs);
    switch (decision.kind) {
      case 'pass':
        next();
        return;
      case 'unavailable':
        res
          .status(503)
          .set('Retry-After', '5')
          .type('text/html')
          .send('<h1>503 - Hệ thống đang bảo trì</h1>');
        return;
      case 'rate-limited':
        res
          .status(429)
          .set('Retry-After', String(decision.retryAfterSeconds))
          .json({ error_code: '429', message: 'Vượt quá số lượng yêu cầu cho phép' });
        return;
      case 'http5xx':
        res.status(decision.status).type('text/html').send('<h1>Lỗi hệ thống</h1>');
        return;
      case 'timeout': {
        const closed = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
        await Promise.race([sleep(decision.holdMs), closed]);
        req.socket.destroy();
        return;
      }
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'malformed':
        res.status(200).type('application/json').send('{"error_code":"00","data":[{"MaHoSo":');
        return;
    }
  };
}
