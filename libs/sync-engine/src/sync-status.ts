import { TOPICS } from '@lienthong/contracts';
import type { OpsCommandResult, SyncStatusV2 as SyncStatus } from '@lienthong/contracts';
import { jsonList, prepared } from '@lienthong/persistence';
import type { SqlExecutor } from './ledger-ingest';
import type { PushTarget } from './push-target.port';

/** The outbox's topic of sync statuses (the relay publishes them on sync.status.v2, and v1 when v1 can say it). */
export const SYNC_STATUS_TOPIC = 'sync.status.v1';

/** The entity a status is about, as the dispatcher and the result poller know it. */
export interface StatusSubject {
  entityType: SyncStatus['entity']['type'];
  entityKey: string;
  communeCode: string;
  sequence: number;
  attempt: number;
}

/** A sync.status of `target`'s entity, now. */
export function syncStatus(
  target: Pick<PushTarget, 'domain' | 'target'>,
  subject: StatusSubject,
  state: SyncStatus['state'],
  extra: Partial<SyncStatus> = {},
): SyncStatus {
  return {
    entity: {
      domain: target.domain,
      type: subject.entityType,
      key: subject.entityKey,
      communeCode: subject.communeCode,
    },
    state,
    sequence: subject.sequence,
    attempt: subject.attempt,
    target: target.target,
    occurredAt: new Date().toISOString(),
    ...extra,
  };
}

/** Writes a status to the outbox, in the caller's transaction (the relay publishes it). */
export async function writeSyncStatus(tx: SqlExecutor, status: SyncStatus): Promise<void> {
  await tx.query(prepared('insert into outbox (topic, message_key, payload) values ($1, $2, $3)'), [
    SYNC_STATUS_TOPIC,
    `${status.entity.domain}:${status.entity.key}`,
    JSON.stringify(status),
  ]);
}

/** Statuses per outbox row (the relay's default round): a row's statuses are published together. */
export const OUTBOX_STATUSES_PER_ROW = 500;

/**
 * Writes many statuses to the outbox, in the caller's transaction: one row per
 * OUTBOX_STATUSES_PER_ROW statuses, its payload the array of them in order (the relay publishes
 * each with its own key and event id). One row per status would cost a heap tuple and its index
 * entries per status twice: written, then marked published.
 */
export async function writeSyncStatuses(tx: SqlExecutor, statuses: SyncStatus[]): Promise<void> {
  if (statuses.length === 1) return writeSyncStatus(tx, statuses[0] as SyncStatus);
  if (statuses.length === 0) return;
  const rows: SyncStatus[][] = [];
  for (let i = 0; i < statuses.length; i += OUTBOX_STATUSES_PER_ROW)
    rows.push(statuses.slice(i, i + OUTBOX_STATUSES_PER_ROW));
  await tx.query(
    prepared(`insert into outbox (topic, message_key, payload, statuses)
     select $1, '', p, jsonb_array_length(p) from jsonb_array_elements($2::jsonb) with ordinality as t(p, n) order by n`),
    [SYNC_STATUS_TOPIC, jsonList(rows)],
  );
}

/** Writes the answer to an operator's command to the outbox, in the caller's transaction. */
export async function writeCommandResult(tx: SqlExecutor, result: OpsCommandResult): Promise<void> {
  await tx.query('insert into outbox (topic, message_key, payload) values ($1, $2, $3)', [
    TOPICS.opsCommandResults,
    result.commandId,
    JSON.stringify(result),
  ]);
}

/** What reconciliation left on an entity it made due again (`sync_entity.drift_detected`). */
export interface DriftMark {
  drift?: SyncStatus['drift'];
  runId?: string;
}

/**
 * After an entity is SYNCED again: if reconciliation had found it drifted (and made it due), the
 * repair has landed. Publishes REPAIRED with what had differed, and clears the mark. `mark` is the
 * row's `drift_detected`, read by the statement that made it SYNCED (no extra read per sync).
 */
export async function writeRepairedIfDrifted(
  tx: SqlExecutor,
  target: Pick<PushTarget, 'domain' | 'target'>,
  mark: DriftMark | null,
  subject: StatusSubject,
): Promise<void> {
  if (!mark) return;
  await tx.query(
    `update sync_entity set drift_detected = null where entity_type = $1 and entity_key = $2`,
    [subject.entityType, subject.entityKey],
  );
  if (mark.runId && /^[0-9a-f-]{36}$/.test(mark.runId))
    await tx.query(`update reconcile_run set repaired = repaired + 1 where id = $1`, [mark.runId]);
  await writeSyncStatus(
    tx,
    syncStatus(target, subject, 'REPAIRED', mark.drift ? { drift: mark.drift } : {}),
  );
}
