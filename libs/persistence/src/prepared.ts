import { createHash } from 'node:crypto';

/**
 * A named prepared statement: the form of a query node-postgres prepares once per connection and
 * then only binds and executes. PostgreSQL parses, analyses and plans an unnamed statement at every
 * call; on the hot paths (ingest, claims, lease renewals, outcomes, the outbox) planning alone took
 * as long as executing (bench:dossier with pg_stat_statements.track_planning: 4.3 s of planning
 * against 5.0 s of execution while pushing).
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
  toString(): string;
}

const statements = new Map<string, PreparedStatement>();

/**
 * The prepared form of a fixed SQL text, to pass where a query's text goes:
 * `db.query(prepared(SQL), params)` — TypeORM's `query` hands its first argument to node-postgres
 * unchanged, and node-postgres takes a `{ name, text }` config there. The name is a digest of the
 * text, so two texts never share a name (node-postgres refuses that) and every instance of a
 * service names a statement alike. For texts built from a bounded set of pieces only: each distinct
 * text stays prepared on every pooled connection for the connection's life. PostgreSQL re-plans a
 * prepared statement itself when a table it reads is altered or analysed, or the search_path
 * moves; not when the table merely grows. A plan made on a young table (read whole: cheapest at a
 * few dozen rows) stays until the table is analysed: autovacuum does that, and where it is off,
 * TableUpkeep (table-upkeep.ts).
 */
export function prepared(text: string): string {
  let statement = statements.get(text);
  if (!statement) {
    const name = `lt_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statement = { name, text, toString: () => text };
    statements.set(text, statement);
  }
  // Typed as the text it stands for: SqlExecutor and TypeORM's query() take a string.
  return statement as unknown as string;
}
