import { returnedRows } from '@lienthong/persistence';
import type { OperatorPause } from '@lienthong/resilience';
import type { SqlExecutor } from './ledger-ingest';

/** The pause of an operator, as the ledger keeps it. */
export interface TargetPauseRow {
  paused_by: string;
  since: Date;
}

/** Pauses a target for every instance (ops command pause-target), in the caller's transaction. */
export async function pauseTarget(
  tx: SqlExecutor,
  target: string,
  by: string,
  reason: string,
  commandId: string,
): Promise<boolean> {
  const rows = await tx.query<unknown[]>(
    `insert into target_pause (target, paused_by, reason, command_id) values ($1, $2, $3, $4)
     on conflict (target) do nothing returning 1`,
    [target, by, reason, commandId],
  );
  return rows.length > 0;
}

/** Lifts an operator's pause (ops command resume-target); false when there was none. */
export async function resumeTarget(tx: SqlExecutor, target: string): Promise<boolean> {
  const rows = returnedRows(
    await tx.query('delete from target_pause where target = $1 returning 1', [target]),
  );
  return rows.length > 0;
}

/** The operator's pause of a target, if there is one. */
export async function readTargetPause(
  db: SqlExecutor,
  target: string,
): Promise<OperatorPause | undefined> {
  const [row] = await db.query<TargetPauseRow[]>(
    'select paused_by, since from target_pause where target = $1',
    [target],
  );
  return row ? { by: row.paused_by, since: new Date(row.since) } : undefined;
}

/**
 * Pauses communes for every instance (ops command pause-communes), in the caller's transaction:
 * the dispatcher claims none of their entities until resumeCommunes. The communes newly paused.
 */
export async function pauseCommunes(
  tx: SqlExecutor,
  communeCodes: string[],
  by: string,
  reason: string,
  commandId: string,
): Promise<string[]> {
  const rows = await tx.query<Array<{ commune_code: string }>>(
    `insert into commune_pause (commune_code, paused_by, reason, command_id)
     select unnest($1::text[]), $2, $3, $4
     on conflict (commune_code) do nothing returning commune_code`,
    [communeCodes, by, reason, commandId],
  );
  return rows.map((r) => r.commune_code).sort();
}

/** Lifts the pause of communes (ops command resume-communes): the communes that were paused. */
export async function resumeCommunes(tx: SqlExecutor, communeCodes: string[]): Promise<string[]> {
  const rows = returnedRows<{ commune_code: string }>(
    await tx.query(
      'delete from commune_pause where commune_code = any($1::text[]) returning commune_code',
      [communeCodes],
    ),
  );
  return rows.map((r) => r.commune_code).sort();
}

/** How many communes are paused (the health report's figure). */
export async function countPausedCommunes(db: SqlExecutor): Promise<number> {
  const [row] = await db.query<Array<{ n: number }>>('select count(*)::int n from commune_pause');
  return row?.n ?? 0;
}
