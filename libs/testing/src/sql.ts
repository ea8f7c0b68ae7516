import { Pool } from 'pg';
import type { QueryResultRow } from 'pg';

/** A small SQL helper for tests: a pool whose connections use one schema first on the search path. */
export class TestSql {
  readonly pool: Pool;

  constructor(databaseUrl: string, schema: string) {
    this.pool = new Pool({
      connectionString: databaseUrl,
      max: 4,
      options: `-c search_path=${schema},public`,
    });
    // An idle connection the server closed (a database restart in a chaos test) is dropped by
    // the pool; the next query opens a new one. Without a listener the error would crash jest.
    this.pool.on('error', () => undefined);
  }

  async query<T extends QueryResultRow = QueryResultRow>(
    text: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const result = await this.pool.query<T>(text, params);
    return result.rows;
  }

  async one<T extends QueryResultRow = QueryResultRow>(
    text: string,
    params: unknown[] = [],
  ): Promise<T> {
    const rows = await this.query<T>(text, params);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${text}`);
    return rows[0] as T;
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
