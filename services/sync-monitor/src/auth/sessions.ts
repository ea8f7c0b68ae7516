import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { Principal, Role } from './accounts';

const ISSUER = 'lienthong-sync-monitor';
const AUDIENCE = 'lienthong-ops';

/**
 * Sign-ins as signed tokens (JWT, HS256, with `jose`): the dashboard keeps one in an HttpOnly
 * cookie, the CLI sends it as a bearer token. The token carries the role, so every request is
 * checked without a session table; an external OIDC provider would issue the same claims
 * (`sub`, `lienthong_role`) and be verified against its JWKS instead of this key.
 */
export class Sessions {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = secret ? new TextEncoder().encode(secret) : randomBytes(32);
  }

  issue(principal: Principal): Promise<string> {
    return new SignJWT({ lienthong_role: principal.role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(principal.username)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** The principal of a token, or undefined when it is missing, forged, expired or malformed. */
  async verify(token: string | undefined): Promise<Principal | undefined> {
    if (!token) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      const role = payload.lienthong_role as Role | undefined;
      if (!payload.sub || !role || (role.kind !== 'operator' && role.kind !== 'viewer'))
        return undefined;
      if (role.provinces !== '*' && !Array.isArray(role.provinces)) return undefined;
      return { username: payload.sub, role };
    } catch {
      return undefined;
    }
  }
}
