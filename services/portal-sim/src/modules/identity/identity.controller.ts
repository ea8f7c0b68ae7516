import { Body, Controller, Get, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { Problem, sameSecret } from '@lienthong/observability';
import { PortalSimSettings } from '../../config/portal-sim.settings';

const KEY_ID = 'idp-sim-1';

/** A commune system's or province system's OAuth2 client and whom it publishes for. */
interface IdpClient {
  secret: string;
  authority: string;
}

/**
 * The identity provider commune systems get their access tokens from (simulated): OAuth2 client
 * credentials (RFC 6749 §4.4) at `POST /idp/token`, ES256 JWTs whose `lienthong_authority` claim
 * says whom the client publishes for (`commune:<code>` or `province:<code>`), and the public keys
 * at `GET /idp/jwks.json`, which ingest-gateway verifies tokens against. A real province would run
 * its own provider (Keycloak, VNeID for organisations…) with the same claim.
 */
@Controller('idp')
export class IdentityController {
  private readonly keys = generateKeyPair('ES256', { extractable: true });

  constructor(@Inject(PortalSimSettings) private readonly settings: PortalSimSettings) {}

  @Get('jwks.json')
  async jwks(): Promise<{ keys: JWK[] }> {
    const jwk = await exportJWK((await this.keys).publicKey);
    return { keys: [{ ...jwk, kid: KEY_ID, alg: 'ES256', use: 'sig' }] };
  }

  @Post('token')
  @HttpCode(200)
  async token(
    @Body() body: Record<string, unknown> | undefined,
    @Headers('authorization') authorization?: string,
  ): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number }> {
    if (body?.grant_type !== 'client_credentials') {
      throw new Problem(400, 'unsupported_grant_type', 'grant_type: must be client_credentials');
    }
    const [id, secret] = clientCredentials(body, authorization);
    const client = id === undefined ? undefined : this.client(id);
    if (!client || secret === undefined || !sameSecret(secret, client.secret)) {
      throw new Problem(401, 'invalid_client', 'the client id or secret is wrong');
    }
    const ttl = this.settings.idp.tokenTtlSeconds;
    const token = await new SignJWT({ lienthong_authority: client.authority })
      .setProtectedHeader({ alg: 'ES256', kid: KEY_ID })
      .setSubject(id as string)
      .setIssuer(this.settings.idp.issuer)
      .setAudience(this.settings.idp.audience)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .sign((await this.keys).privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: ttl };
  }

  private client(id: string): IdpClient | undefined {
    const listed = this.settings.idp.clients.get(id);
    if (listed) return listed;
    const demo = /^(commune)-([0-9]{5})$|^(province)-([0-9]{2})$/.exec(id);
    if (!this.settings.idp.demo || !demo) return undefined;
    const kind = demo[1] ?? demo[3];
    const code = demo[2] ?? demo[4];
    return { secret: `${id}-demo`, authority: `${kind}:${code}` };
  }
}

/** client_secret_basic (the Authorization header) or client_secret_post (the form). */
function clientCredentials(
  body: Record<string, unknown>,
  authorization: string | undefined,
): [string | undefined, string | undefined] {
  const basic = /^Basic\s+(.+)$/i.exec(authorization ?? '');
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0)
      return [
        decodeURIComponent(decoded.slice(0, colon)),
        decodeURIComponent(decoded.slice(colon + 1)),
      ];
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return [text(body.client_id), text(body.client_secret)];
}
