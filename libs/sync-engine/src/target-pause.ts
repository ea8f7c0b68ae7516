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
  const rows = await tx.query<unknown[]>('delete from target_pause where target = $1 returning 1', [
    target,
  ]);
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
