import { returnedRows } from '@lienthong/persistence';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { PortalApi } from '../effects/effects.store';

/** Sessions and bearer tokens of the three APIs, in one table: they expire like the real ones. */
@Injectable()
export class TokenStore {
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
    const rows: Array<{ principal: string }> = await this.db.query(
      `select principal from access_token where token = $1 and api = $2 and expires_at > now()`,
      [token, api],
    );
    return rows[0]?.principal;
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
    const rows: unknown[] = await this.db.query(
      `update access_token set expires_at = now() - interval '1 second' where api = $1 and expires_at > now() returning token`,
      [api],
    );
    return returnedRows(rows).length;
  }
}
