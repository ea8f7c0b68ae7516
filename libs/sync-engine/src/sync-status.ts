import type { SyncStatusV2 as SyncStatus } from '@lienthong/contracts';
import { SYNC_STATUS_TOPIC } from './ledger-ingest';
import type { SqlExecutor } from './ledger-ingest';
import type { PushTarget } from './push-target.port';

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
  await tx.query('insert into outbox (topic, message_key, payload) values ($1, $2, $3)', [
    SYNC_STATUS_TOPIC,
    `${status.entity.domain}:${status.entity.key}`,
    JSON.stringify(status),
  ]);
}
