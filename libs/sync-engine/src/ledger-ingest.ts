import { createHash } from 'node:crypto';
import type { SyncStatus } from '@lienthong/contracts';
import { returnedRows } from '@lienthong/persistence';

/** Anything that runs SQL inside the consumer's transaction (TypeORM EntityManager, QueryRunner). */
export interface SqlExecutor {
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
}

/** One event, as the ledger sees it: a full snapshot of the entity's desired state, or one part (a step). */
export interface LedgerItem {
  eventId: string;
  domain: SyncStatus['entity']['domain'];
  entityType: SyncStatus['entity']['type'];
  entityKey: string;
  communeCode: string;
  target: SyncStatus['target'];
  sequence: number;
  kind: 'snapshot' | 'part';
  /** Stable id of the part (the dossier step's MaBuocXuLy); parts only. */
  partKey?: string;
  payload: unknown;
}

/**
 * accepted: the ledger took it (a newer desired state, or a new part);
 * superseded: the entity already holds a newer state (older sequence): nothing changes;
 * duplicate: this event (or this part) was processed before: nothing changes.
 */
export type IngestOutcome = 'accepted' | 'superseded' | 'duplicate';

export interface IngestReport {
  outcomes: Map<string, IngestOutcome>;
  accepted: number;
  superseded: number;
  duplicate: number;
}

export const SYNC_STATUS_TOPIC = 'sync.status.v1';

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex');
}

/**
 * Ingest (design.md, step 1): applies a batch of valid events to the ledger inside the caller's
 * transaction, with a fixed number of set-based statements whatever the batch size: dedupe by
 * event id, keep the latest desired state per entity (an older sequence is superseded), record new
 * parts, and write a sync.status outbox row for every accepted or superseded event.
 */
export class LedgerIngest {
  constructor(private readonly service: string) {}

  async ingest(db: SqlExecutor, items: LedgerItem[]): Promise<IngestReport> {
    const outcomes = new Map<string, IngestOutcome>();
    // The same event twice in one batch: the first occurrence counts.
    const first = new Map<string, LedgerItem>();
    for (const item of items) if (!first.has(item.eventId)) first.set(item.eventId, item);
    const unique = [...first.values()];

    // 1. Dedupe by event id: only ids inserted now are new.
    const fresh = new Set(
      (
        await db.query<Array<{ event_id: string }>>(
          'insert into processed_event (event_id) select unnest($1::text[]) on conflict do nothing returning event_id',
          [unique.map((i) => i.eventId)],
        )
      ).map((r) => r.event_id),
    );
    for (const item of unique)
      if (!fresh.has(item.eventId)) outcomes.set(item.eventId, 'duplicate');
    const todo = unique.filter((i) => fresh.has(i.eventId));

    // 2. Snapshots: the highest sequence per entity in this batch competes with the stored one.
    const latest = new Map<string, LedgerItem>();
    for (const item of todo.filter((i) => i.kind === 'snapshot')) {
      const key = `${item.entityType}\u0000${item.entityKey}`;
      const current = latest.get(key);
      if (!current || item.sequence > current.sequence) {
        if (current) outcomes.set(current.eventId, 'superseded');
        latest.set(key, item);
      } else outcomes.set(item.eventId, 'superseded');
    }
    const contenders = [...latest.values()];
    if (contenders.length > 0) {
      const won = await db.query<Array<{ entity_type: string; entity_key: string }>>(
        `with incoming as (
           select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[], $7::text[])
             as t(entity_type, entity_key, commune_code, target, seq, desired, fp)
         )
         insert into sync_entity as e (entity_type, entity_key, commune_code, target, source_sequence, desired, desired_fingerprint, state)
         select entity_type, entity_key, commune_code, target, seq, desired, fp, 'PENDING' from incoming
         on conflict (entity_type, entity_key) do update set
           source_sequence = excluded.source_sequence,
           desired = excluded.desired,
           desired_fingerprint = excluded.desired_fingerprint,
           commune_code = excluded.commune_code,
           -- Nothing to push when the portal already holds exactly this state and no part waits.
           state = case
             when e.synced_fingerprint = excluded.desired_fingerprint and not exists (
               select 1 from sync_entity_part p where p.entity_type = e.entity_type and p.entity_key = e.entity_key and p.pushed_at is null)
             then 'SYNCED' else 'PENDING' end,
           attempts = 0,
           last_error = null,
           pending_since = case when e.state in ('PENDING', 'RETRYING') then e.pending_since else now() end,
           -- A portal still in backoff keeps its schedule; otherwise push now.
           next_attempt_at = case when e.state = 'RETRYING' then e.next_attempt_at else now() end,
           updated_at = now()
         where excluded.source_sequence > e.source_sequence
         returning e.entity_type, e.entity_key`,
        [
          contenders.map((i) => i.entityType),
          contenders.map((i) => i.entityKey),
          contenders.map((i) => i.communeCode),
          contenders.map((i) => i.target),
          contenders.map((i) => i.sequence),
          contenders.map((i) => JSON.stringify(i.payload)),
          contenders.map((i) => fingerprint(i.payload)),
        ],
      );
      const winners = new Set(won.map((w) => `${w.entity_type}\u0000${w.entity_key}`));
      for (const [key, item] of latest)
        outcomes.set(item.eventId, winners.has(key) ? 'accepted' : 'superseded');
    }

    // 3. Parts: new part keys are accepted; a part seen before (under another event id) is a duplicate.
    const parts = todo.filter((i) => i.kind === 'part');
    if (parts.length > 0) {
      const inserted = await db.query<
        Array<{ entity_type: string; entity_key: string; part_key: string }>
      >(
        `insert into sync_entity_part (entity_type, entity_key, part_key, source_sequence, payload)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[])
         on conflict do nothing
         returning entity_type, entity_key, part_key`,
        [
          parts.map((i) => i.entityType),
          parts.map((i) => i.entityKey),
          parts.map((i) => i.partKey ?? i.eventId),
          parts.map((i) => i.sequence),
          parts.map((i) => JSON.stringify(i.payload)),
        ],
      );
      const added = new Set(
        inserted.map((r) => `${r.entity_type}\u0000${r.entity_key}\u0000${r.part_key}`),
      );
      for (const p of parts) {
        outcomes.set(
          p.eventId,
          added.has(`${p.entityType}\u0000${p.entityKey}\u0000${p.partKey ?? p.eventId}`)
            ? 'accepted'
            : 'duplicate',
        );
      }
      // An entity with new parts has work again. The version bump is what a push finishing at the
      // same moment sees (it updates this row, so it waits for our commit and re-reads it).
      await db.query(
        `update sync_entity set
           parts_version = parts_version + 1,
           state = case when state = 'SYNCED' then 'PENDING' else state end,
           next_attempt_at = case when state = 'SYNCED' then now() else next_attempt_at end,
           pending_since = case when state = 'SYNCED' then now() else pending_since end,
           updated_at = now()
         where (entity_type, entity_key) in (select * from unnest($1::text[], $2::text[]))`,
        [inserted.map((r) => r.entity_type), inserted.map((r) => r.entity_key)],
      );
    }

    // 4. The outbox: one sync.status event per accepted or superseded event, in this transaction.
    const now = new Date().toISOString();
    const statuses = unique
      .filter(
        (i) => outcomes.get(i.eventId) === 'accepted' || outcomes.get(i.eventId) === 'superseded',
      )
      .map((i): SyncStatus => ({
        entity: {
          domain: i.domain,
          type: i.entityType,
          key: i.entityKey,
          communeCode: i.communeCode,
        },
        state: outcomes.get(i.eventId) === 'accepted' ? 'ACCEPTED' : 'SUPERSEDED',
        sequence: i.sequence,
        attempt: 0,
        causationId: i.eventId,
        target: i.target,
        occurredAt: now,
      }));
    if (statuses.length > 0) {
      await db.query(
        `insert into outbox (topic, message_key, payload) select $1, * from unnest($2::text[], $3::jsonb[])`,
        [
          SYNC_STATUS_TOPIC,
          statuses.map((s) => `${s.entity.domain}:${s.entity.key}`),
          statuses.map((s) => JSON.stringify(s)),
        ],
      );
    }

    const count = (o: IngestOutcome) => [...outcomes.values()].filter((v) => v === o).length;
    return {
      outcomes,
      accepted: count('accepted'),
      superseded: count('superseded'),
      // Repeats inside this batch count too: each item has one outcome.
      duplicate: count('duplicate') + items.length - unique.length,
    };
  }

  /** Retention of the dedupe table: ids older than this are forgotten (replays beyond it rely on sequences). */
  async purgeProcessedEvents(db: SqlExecutor, olderThanDays: number): Promise<number> {
    const rows = await db.query<unknown[]>(
      `delete from processed_event where processed_at < now() - make_interval(days => $1) returning 1`,
      [olderThanDays],
    );
    return returnedRows(rows).length;
  }
}
