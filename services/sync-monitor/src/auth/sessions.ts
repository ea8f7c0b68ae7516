import { randomBytes } from 'node:crypto';
import { SignJWT, createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { Principal, Role } from './accounts';

const ISSUER = 'lienthong-sync-monitor';
const AUDIENCE = 'lienthong-ops';

/**
 * An external OpenID Connect provider whose access tokens the ops API accepts as bearer tokens
 * (the CLI, other tools): verified against the provider's JWKS (fetched, cached and refreshed on
 * an unknown key id by `jose`), its issuer and the audience. The role comes from the token's
 * `lienthong_role` claim ({kind, provinces}), as in the local tokens — the provider's mapper adds
 * it from the user's groups.
 */
export interface OidcProvider {
  issuer: string;
  audience: string;
  jwksUrl: string;
}

/**
 * Sign-ins as signed tokens (JWT, with `jose`): the dashboard keeps one in an HttpOnly cookie, the
 * CLI sends it as a bearer token. The token carries the role, so every request is checked without
 * a session table. Local accounts get HS256 tokens signed with this service's key; with an OIDC
 * provider configured, its RS256/ES256 tokens are accepted too (the same claims: `sub`,
 * `lienthong_role`), so the local accounts can be retired.
 */
export class Sessions {
  private readonly key: Uint8Array;
  private readonly oidc:
    { provider: OidcProvider; keys: ReturnType<typeof createRemoteJWKSet> } | undefined;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    oidc?: OidcProvider,
  ) {
    this.key = secret ? new TextEncoder().encode(secret) : randomBytes(32);
    this.oidc = oidc
      ? {
          provider: oidc,
          keys: createRemoteJWKSet(new URL(oidc.jwksUrl), { timeoutDuration: 5000 }),
        }
      : undefined;
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

  /**
   * The principal of a token, or undefined when it is missing, forged, expired or malformed, or
   * carries no valid role: a local token first, then (when configured) the OIDC provider's.
   */
  async verify(token: string | undefined): Promise<Principal | undefined> {
    if (!token) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      return principalOf(payload);
    } catch {
      // Not one of ours: perhaps the provider's.
    }
    if (!this.oidc) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.oidc.keys, {
        issuer: this.oidc.provider.issuer,
        audience: this.oidc.provider.audience,
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      });
      return principalOf(payload);
    } catch {
      return undefined;
    }
  }
}

/** Who a verified token names, with the role it carries (undefined when the role is not valid). */
function principalOf(payload: JWTPayload): Principal | undefined {
  const role = payload.lienthong_role as Role | undefined;
  if (!payload.sub || !role || typeof role !== 'object') return undefined;
  if (role.kind !== 'operator' && role.kind !== 'viewer') return undefined;
  const provinces = role.provinces;
  const valid =
    provinces === '*' ||
    (Array.isArray(provinces) &&
      provinces.length > 0 &&
      provinces.every((p) => typeof p === 'string' && /^[0-9]{2}$/.test(p)));
  return valid ? { username: payload.sub, role: { kind: role.kind, provinces } } : undefined;
}
