import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sync ledger (design.md, "The core pattern"): one row per entity with the latest desired
 * state and where its sync stands; the parts (dossier steps) still to push; the ids of events
 * already processed; the outbox of sync.status events.
 */
export class SyncLedger1763800000300 implements MigrationInterface {
  name = 'SyncLedger1763800000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table sync_entity (
        entity_type text not null,
        entity_key text not null,
        commune_code char(5) not null,
        target text not null,
        source_sequence bigint not null,
        desired jsonb not null,
        desired_fingerprint char(64) not null,
        synced_fingerprint char(64),
        state text not null check (state in ('PENDING', 'RETRYING', 'SYNCED', 'REJECTED')),
        attempts integer not null default 0,
        next_attempt_at timestamptz not null default now(),
        lease_owner text,
        lease_until timestamptz,
        last_error jsonb,
        receipt jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (entity_type, entity_key)
      )`);
    await q.query(
      `create index sync_entity_due on sync_entity (target, next_attempt_at) where state in ('PENDING', 'RETRYING')`,
    );
    await q.query(`
      create table sync_entity_part (
        entity_type text not null,
        entity_key text not null,
        part_key text not null,
        source_sequence bigint not null,
        payload jsonb not null,
        pushed_at timestamptz,
        created_at timestamptz not null default now(),
        primary key (entity_type, entity_key, part_key)
      )`);
    await q.query(
      `create index sync_entity_part_pending on sync_entity_part (entity_type, entity_key, source_sequence) where pushed_at is null`,
    );
    await q.query(`
      create table processed_event (
        event_id text primary key,
        processed_at timestamptz not null default now()
      )`);
    await q.query(`create index processed_event_age on processed_event (processed_at)`);
    await q.query(`
      create table outbox (
        id bigserial primary key,
        topic text not null,
        message_key text not null,
        payload jsonb not null,
        created_at timestamptz not null default now(),
        published_at timestamptz
      )`);
    await q.query(`create index outbox_unpublished on outbox (id) where published_at is null`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['outbox', 'processed_event', 'sync_entity_part', 'sync_entity'])
      await q.query(`drop table ${t}`);
  }
}

/**
 * Two dispatch facts the first schema lacked. `portal_uncertain`: the portal may hold part of the
 * last push (a retriable failure: a timeout may have landed); kept apart from `attempts`, which a
 * newer desired state resets. `pending_since`: when the entity last left SYNCED/REJECTED (the age
 * of the oldest pending change, for ops), untouched by retries. `parts_version`: bumped by ingest
 * whenever a new part arrives, so a push that finishes concurrently can tell, from the row it
 * holds locked (not from a subquery that cannot see an uncommitted insert), that it is not done.
 */
export class SyncLedgerDispatch1763800000400 implements MigrationInterface {
  name = 'SyncLedgerDispatch1763800000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `alter table sync_entity
         add column portal_uncertain boolean not null default false,
         add column pending_since timestamptz not null default now(),
         add column parts_version integer not null default 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'alter table sync_entity drop column portal_uncertain, drop column pending_since',
    );
  }
}

/** Every sync-ledger migration, in order: include them in a sync service's data source. */
export const SYNC_LEDGER_MIGRATIONS = [SyncLedger1763800000300, SyncLedgerDispatch1763800000400];
