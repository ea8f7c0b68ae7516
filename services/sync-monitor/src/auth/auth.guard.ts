import { Injectable, SetMetadata } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Problem } from '@lienthong/observability';
import type { Principal } from './accounts';
import { Sessions } from './sessions';

export const SESSION_COOKIE = 'lienthong_session';
const PUBLIC = 'lienthong:public';

/** A route anyone may call (sign-in, health, metrics, assets). */
export const Public = () => SetMetadata(PUBLIC, true);

/** The request's signed-in operator (set by AuthGuard). */
export function principalOf(req: Request): Principal {
  return (req as Request & { principal: Principal }).principal;
}

/**
 * Every route needs a signed-in operator unless it is @Public(): a session cookie (dashboard) or
 * a bearer token (CLI). Without one: 401 (a browser asking for a page is sent to the sign-in
 * page by ProblemFilter). What the operator may see or do is each route's own check (roles are
 * scoped to provinces).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly sessions: Sessions,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (
      this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])
    )
      return true;
    const req = context.switchToHttp().getRequest<Request>();
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const cookie = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    const principal = await this.sessions.verify(bearer ?? cookie);
    if (!principal)
      throw new Problem(401, 'Unauthorized', 'a valid session cookie or bearer token is required');
    (req as Request & { principal: Principal }).principal = principal;
    return true;
  }
}
