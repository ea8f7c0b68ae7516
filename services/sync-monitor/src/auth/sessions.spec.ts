import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Sessions } from './sessions';

/** A stand-in OIDC provider on loopback: its JWKS, and tokens signed with its key. */
async function provider() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (
    claims: Record<string, unknown>,
    options: { aud?: string; iss?: string; exp?: string } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('nguyen.van.a')
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? 'lienthong-ops')
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(privateKey);
  return { issuer, sign, fetches: () => fetches, close: () => server.close() };
}

describe('Sessions', () => {
  it('verifies its own tokens and refuses forged, foreign or role-less ones', async () => {
    const sessions = new Sessions('a-test-secret-of-at-least-thirty-two-characters', 60);
    const token = await sessions.issue({
      username: 'hue',
      role: { kind: 'operator', provinces: ['46'] },
    });
    expect(await sessions.verify(token)).toEqual({
      username: 'hue',
      role: { kind: 'operator', provinces: ['46'] },
    });
    const other = new Sessions('another-secret-of-at-least-thirty-two-characters', 60);
    expect(await other.verify(token)).toBeUndefined();
    expect(await sessions.verify(`${token.slice(0, -2)}xx`)).toBeUndefined();
    expect(await sessions.verify('not-a-jwt')).toBeUndefined();
    expect(await sessions.verify(undefined)).toBeUndefined();
  });

  it('accepts an OIDC provider’s tokens, checked against its JWKS, issuer and audience, with the role they carry', async () => {
    const p = await provider();
    try {
      const sessions = new Sessions('', 60, {
        issuer: p.issuer,
        audience: 'lienthong-ops',
        jwksUrl: `${p.issuer}/.well-known/jwks.json`,
      });
      const role = { kind: 'viewer', provinces: ['46', '79'] };
      expect(await sessions.verify(await p.sign({ lienthong_role: role }))).toEqual({
        username: 'nguyen.van.a',
        role,
      });
      // Wrong audience, wrong issuer, expired, no role, a role out of shape: refused.
      const refused = [
        await p.sign({ lienthong_role: role }, { aud: 'someone-else' }),
        await p.sign({ lienthong_role: role }, { iss: 'http://127.0.0.1:1' }),
        await p.sign({ lienthong_role: role }, { exp: '1s ago' }),
        await p.sign({}),
        await p.sign({ lienthong_role: { kind: 'admin', provinces: '*' } }),
        await p.sign({ lienthong_role: { kind: 'operator', provinces: ['Huế'] } }),
        await p.sign({ lienthong_role: { kind: 'operator', provinces: [] } }),
      ];
      for (const token of refused) expect(await sessions.verify(token)).toBeUndefined();
      // A token signed by another key with the provider's key id: refused.
      const forged = await new SignJWT({ lienthong_role: role })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setSubject('mallory')
        .setIssuer(p.issuer)
        .setAudience('lienthong-ops')
        .setExpirationTime('5m')
        .sign((await generateKeyPair('RS256')).privateKey);
      expect(await sessions.verify(forged)).toBeUndefined();
      expect(p.fetches()).toBeGreaterThan(0);
    } finally {
      p.close();
    }
  });

  it('without a provider, a well-signed foreign token is refused', async () => {
    const p = await provider();
    try {
      const sessions = new Sessions('', 60);
      const token = await p.sign({ lienthong_role: { kind: 'operator', provinces: '*' } });
      expect(await sessions.verify(token)).toBeUndefined();
      expect(p.fetches()).toBe(0);
    } finally {
      p.close();
    }
  });
});
