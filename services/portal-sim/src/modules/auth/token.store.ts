import { returnedRows } from '@lienthong/persistence';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { PortalApi } from '../effects/effects.store';

/** How long a token found live is trusted without reading the table again (never past its expiry). */
const TRUSTED_MS = 1000;
/** Tokens trusted at once, at most (a client that logs in for every call must not grow the map). */
const TRUSTED_MAX = 10_000;

/**
 * Sessions and bearer tokens of the three APIs, in one table: they expire like the real ones. A
 * token found live is trusted for up to a second (or its expiry, if sooner) without a read: a
 * call used to cost a database round trip for its token alone. An admin expiry (expireAll) ends
 * this process's trust at once; another portal-sim process on the same table sees it within that
 * second.
 */
@Injectable()
export class TokenStore {
  private readonly trusted = new Map<string, { principal: string; until: number }>();

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async issue(
    api: PortalApi,
    principal: string,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresIn: number }> {
    const token = randomBytes(24).toString('base64url');
    await this.db.query(
      `insert into access_token (token, api, principal, expires_at) values ($1, $2, $3, now() + make_interval(secs => $4))`,
      [token, api, principal, ttlSeconds],
    );
    return { token, expiresIn: ttlSeconds };
  }

  /** The principal of a live token, or undefined when it is unknown or expired. */
  async principal(api: PortalApi, token: string | undefined): Promise<string | undefined> {
    if (!token) return undefined;
    const key = `${api} ${token}`;
    const trusted = this.trusted.get(key);
    if (trusted && trusted.until > Date.now()) return trusted.principal;
    const rows: Array<{ principal: string; expires_ms: string }> = await this.db.query(
      `select principal, extract(epoch from expires_at) * 1000 expires_ms
       from access_token where token = $1 and api = $2 and expires_at > now()`,
      [token, api],
    );
    const row = rows[0];
    if (!row) {
      this.trusted.delete(key);
      return undefined;
    }
    if (this.trusted.size >= TRUSTED_MAX) this.trusted.clear();
    this.trusted.set(key, {
      principal: row.principal,
      until: Math.min(Number(row.expires_ms), Date.now() + TRUSTED_MS),
    });
    return row.principal;
  }

  /** The principal behind an `Authorization: Bearer …` header, or undefined. */
  bearerPrincipal(api: PortalApi, authorization: string | undefined): Promise<string | undefined> {
    return this.principal(
      api,
      authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined,
    );
  }

  /** Ends every session of an API now (admin: simulate a server-side expiry). */
  async expireAll(api: PortalApi): Promise<number> {
    this.trusted.clear();
    const rows: unknown[] = await this.db.query(
      `update access_token set expires_at = now() - interval '1 second' where api = $1 and expires_at > now() returning token`,
      [api],
    );
    this.trusted.clear(); // and what a call read meanwhile
    return returnedRows(rows).length;
  }
}
