import { createRemoteJWKSet, jwtVerify } from 'jose';
import { parseAuthority } from '@lienthong/contracts';
import type { PublisherAuthority } from '@lienthong/contracts';

/** Who is calling: the OAuth2 client (`sub`) and whom it may publish for. */
export interface Caller {
  client: string;
  authority: PublisherAuthority;
}

/**
 * OAuth2 client credentials, the resource server's side: a commune system gets an access token
 * from its identity provider and sends it as `Authorization: Bearer …`; the token is verified
 * against the provider's JWKS (fetched, cached and refreshed on an unknown key id by `jose`), its
 * issuer, this API's audience and its expiry. Whom the client publishes for comes from the
 * token's `lienthong_authority` claim (`commune:<code>` or `province:<code>`), never from the
 * events it posts.
 */
export class CommuneCredentials {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly provider: { issuer: string; audience: string; jwksUrl: string }) {
    this.keys = createRemoteJWKSet(new URL(provider.jwksUrl), { timeoutDuration: 5000 });
  }

  /** The caller, or why not (a sentence for the 401 problem; never the token itself). */
  async verify(authorization: string | undefined): Promise<Caller | { refused: string }> {
    const bearer = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(authorization ?? '');
    if (!bearer?.[1]) return { refused: 'Authorization: a Bearer access token is required' };
    try {
      const { payload } = await jwtVerify(bearer[1], this.keys, {
        issuer: this.provider.issuer,
        audience: this.provider.audience,
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      });
      const claim = payload.lienthong_authority;
      const authority = typeof claim === 'string' ? parseAuthority(claim) : undefined;
      if (!authority || !payload.sub) {
        return { refused: 'the access token names no commune or province (lienthong_authority)' };
      }
      return { client: payload.sub, authority };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
      return { refused: `the access token is not valid (${code})` };
    }
  }
}
