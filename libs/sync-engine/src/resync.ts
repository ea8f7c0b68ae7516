import { returnedRows } from '@lienthong/persistence';
import type { SqlExecutor } from './ledger-ingest';
import type { PushTarget } from './push-target.port';
import type { OpenEntities, ReconcileScope } from './reconcile-runs';
import { scopeFilter } from './reconcile-runs';
import { syncStatus, writeSyncStatuses } from './sync-status';
import type { StatusSubject } from './sync-status';

/** What a re-sync did: entities made due for a full push, and those it left alone. */
export interface ResyncOutcome {
  resynced: number;
  /** Being pushed right now (a live lease): that push goes on; re-sync them again if needed. */
  inFlight: number;
  /** At the portal awaiting its answer (a registration the registry is deciding): not re-sent. */
  awaiting: number;
}

/**
 * Re-sync of a scope (ops command `resync`), in the caller's transaction: every entity of the
 * scope that is not in flight is made due for a full push of its latest state — every part (step)
 * again, the portal's copy taken as unknown (so the push is an upsert, not a diff) — through the
 * dispatcher, with its pacing, breaker and bulkhead. A rejected entity gets a new try (the portal
 * may have fixed what refused it). Each resynced entity is announced ACCEPTED on sync.status, so
 * the backlog shows it until it is SYNCED again.
 *
 * Left alone: entities leased by a push in flight (a row lock would race with its completion)
 * and entities awaiting the registry's answer or a commune's supplement (the registry holds them;
 * sending again would file them twice). They are counted, not hidden.
 */
export async function resyncScope(
  tx: SqlExecutor,
  target: Pick<PushTarget, 'domain' | 'target'>,
  scope: ReconcileScope,
  open?: OpenEntities,
): Promise<ResyncOutcome> {
  const filter = scopeFilter(scope, open, 'include');
  const [counts] = await tx.query<Array<{ in_flight: number; awaiting: number }>>(
    `select count(*) filter (where e.lease_until >= now())::int in_flight,
            count(*) filter (where e.state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED'))::int awaiting
     from sync_entity e where $1::text is null and ${filter.sql}`,
    [null, target.target, ...filter.params],
  );
  const rows = returnedRows<{
    entity_type: StatusSubject['entityType'];
    entity_key: string;
    commune_code: string;
    source_sequence: string;
  }>(
    await tx.query(
      `with scoped as (
       select e.entity_type, e.entity_key from sync_entity e
       where $1::text is null and ${filter.sql}
         and e.state in ('PENDING', 'RETRYING', 'SYNCED', 'REJECTED')
         and (e.lease_until is null or e.lease_until < now())
       for update of e
     ), parts as (
       update sync_entity_part p set pushed_at = null, sent_at = null, sends = 0
       from scoped s where p.entity_type = s.entity_type and p.entity_key = s.entity_key
     )
     update sync_entity e set state = 'PENDING', portal_uncertain = true, next_attempt_at = now(),
       pending_since = case when e.state in ('PENDING', 'RETRYING') then e.pending_since else now() end,
       attempts = 0, last_error = null, synced_fingerprint = null, updated_at = now()
     from scoped s where e.entity_type = s.entity_type and e.entity_key = s.entity_key
     returning e.entity_type, e.entity_key, e.commune_code, e.source_sequence`,
      [null, target.target, ...filter.params],
    ),
  );
  await writeSyncStatuses(
    tx,
    rows.map((r) =>
      syncStatus(
        target,
        {
          entityType: r.entity_type,
          entityKey: r.entity_key,
          communeCode: r.commune_code,
          sequence: Number(r.source_sequence),
          attempt: 0,
        },
        'ACCEPTED',
      ),
    ),
  );
  return {
    resynced: rows.length,
    inFlight: counts?.in_flight ?? 0,
    awaiting: counts?.awaiting ?? 0,
  };
}
