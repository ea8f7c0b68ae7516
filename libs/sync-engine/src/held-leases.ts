import { prepared } from '@lienthong/persistence';
import type { SqlExecutor } from './ledger-ingest';

/** The ledger rows a batch of lease holders still holds (dispatcher, result poller). */

/** A ledger row's key, as rows come back from SQL … */
export const rowKey = (r: { entity_type: string; entity_key: string }) =>
  `${r.entity_type}\u0000${r.entity_key}`;
/** … and as the engine names an entity. */
export const entityRowKey = (e: { entityType: string; entityKey: string }) =>
  `${e.entityType}\u0000${e.entityKey}`;

/**
 * The rows of `$1`, `$2`, `$3` (entity types, keys, lease tokens) whose lease is still that token,
 * locked in key order. A batch of several entities skips rows another transaction holds right now:
 * it never waits for a lock while holding others (ingest's batches lock rows in their own order, so
 * waiting could deadlock). A skipped row is then written alone, which may wait. `where` (a
 * condition on `e`) leaves out rows the caller writes another way; they count as skipped.
 */
export const heldLeases = (wait: boolean, where = '') =>
  prepared(`select e.entity_type, e.entity_key from sync_entity e
   join unnest($1::text[], $2::text[], $3::uuid[]) as i(entity_type, entity_key, token)
     on e.entity_type = i.entity_type and e.entity_key = i.entity_key and e.lease_token = i.token
   ${where ? `where ${where}` : ''}
   order by e.entity_type, e.entity_key
   for update of e${wait ? '' : ' skip locked'}`);

/** Locks, in `tx`, the rows still held under these leases (see heldLeases); their row keys. */
export async function lockHeldLeases(
  tx: SqlExecutor,
  leases: Array<{ entityType: string; entityKey: string; token: string | null }>,
  wait: boolean,
): Promise<Set<string>> {
  const locked = await tx.query<Array<{ entity_type: string; entity_key: string }>>(
    heldLeases(wait),
    [leases.map((l) => l.entityType), leases.map((l) => l.entityKey), leases.map((l) => l.token)],
  );
  return new Set(locked.map(rowKey));
}
