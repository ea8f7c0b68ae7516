import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sync ledger (docs/architecture.md, "The core pattern"): one row per entity with the latest desired
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
      'alter table sync_entity drop column portal_uncertain, drop column pending_since, drop column parts_version',
    );
  }
}

/**
 * Hardening (failure model, docs/failure-model.md):
 * - `lease_token`: a fresh token per claim; every write of a push's outcome checks it, so a worker
 *   whose lease was taken over (or a second process with the same instance id) writes nothing.
 * - `sync_entity_part.commune_code`: whose part it is, so a part cannot change an entity's commune.
 * - `processed_event` keyed by CloudEvents source + id (the spec's uniqueness), with the payload's
 *   fingerprint: the same source + id with another payload is a conflict, not a duplicate.
 * - `outbox.failed_reason`: a row that cannot be published is set aside with its reason instead
 *   of blocking the rows behind it.
 * - `sync_entity_due_commune`: claims share the push slots across communes.
 */
export class SyncLedgerHardening1763800000500 implements MigrationInterface {
  name = 'SyncLedgerHardening1763800000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table sync_entity add column lease_token uuid');
    await q.query('alter table sync_entity_part add column commune_code char(5)');
    await q.query(
      `update sync_entity_part p set commune_code = e.commune_code from sync_entity e
       where e.entity_type = p.entity_type and e.entity_key = p.entity_key`,
    );
    await q.query(
      `alter table processed_event add column source text not null default '', add column fingerprint char(64)`,
    );
    await q.query('alter table processed_event drop constraint processed_event_pkey');
    await q.query('alter table processed_event add primary key (source, event_id)');
    await q.query('alter table outbox add column failed_reason text');
    await q.query('drop index if exists outbox_unpublished');
    await q.query(
      'create index outbox_unpublished on outbox (id) where published_at is null and failed_reason is null',
    );
    await q.query(
      'create index outbox_published on outbox (published_at) where published_at is not null',
    );
    await q.query(
      `create index sync_entity_due_commune on sync_entity (target, commune_code, next_attempt_at) where state in ('PENDING', 'RETRYING')`,
    );
    await q.query(
      `create index sync_entity_backlog on sync_entity (target, state) where state <> 'SYNCED'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index sync_entity_backlog');
    await q.query('drop index sync_entity_due_commune');
    await q.query('drop index outbox_published');
    await q.query('drop index outbox_unpublished');
    await q.query('create index outbox_unpublished on outbox (id) where published_at is null');
    await q.query('alter table outbox drop column failed_reason');
    await q.query('alter table processed_event drop constraint processed_event_pkey');
    // Ids that only differ by source collapse to one when going back.
    await q.query(
      'delete from processed_event a using processed_event b where a.event_id = b.event_id and a.source > b.source',
    );
    await q.query('alter table processed_event add primary key (event_id)');
    await q.query('alter table processed_event drop column source, drop column fingerprint');
    await q.query('alter table sync_entity_part drop column commune_code');
    await q.query('alter table sync_entity drop column lease_token');
  }
}

/**
 * Two-phase targets: a portal that accepts a submission now and answers later.
 * - AWAITING_RESULT: accepted, its result is polled (`next_poll_at`, `polls`) since `awaiting_since`;
 * - SUPPLEMENT_REQUESTED: the portal asks the commune for more (`supplement`); polling goes on;
 * - `result`: what the portal answered at the end (stored here; published by reference only);
 * - `portal_stage`: the portal's own stage, as last seen.
 */
export class SyncLedgerTwoPhase1763800000700 implements MigrationInterface {
  name = 'SyncLedgerTwoPhase1763800000700';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table sync_entity drop constraint sync_entity_state_check');
    await q.query(
      `alter table sync_entity add constraint sync_entity_state_check check (state in
         ('PENDING', 'RETRYING', 'SYNCED', 'REJECTED', 'AWAITING_RESULT', 'SUPPLEMENT_REQUESTED'))`,
    );
    await q.query(
      `alter table sync_entity
         add column awaiting_since timestamptz,
         add column polls integer not null default 0,
         add column next_poll_at timestamptz,
         add column result_reference text,
         add column result jsonb,
         add column supplement jsonb,
         add column portal_stage jsonb`,
    );
    await q.query(
      `create index sync_entity_poll on sync_entity (target, next_poll_at)
         where state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index sync_entity_poll');
    // Going back, a registration awaiting its result is simply due again (the old engine pushes it).
    await q.query(
      `update sync_entity set state = 'PENDING', next_attempt_at = now()
       where state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED')`,
    );
    await q.query(
      `alter table sync_entity drop column awaiting_since, drop column polls, drop column next_poll_at,
         drop column result_reference, drop column result, drop column supplement, drop column portal_stage`,
    );
    await q.query('alter table sync_entity drop constraint sync_entity_state_check');
    await q.query(
      `alter table sync_entity add constraint sync_entity_state_check check (state in ('PENDING', 'RETRYING', 'SYNCED', 'REJECTED'))`,
    );
  }
}

/**
 * Inbound facts (a portal that calls back, like the land registry): found by the reference the
 * portal knows the entity by, and ordered by the portal's own time (`last_fact_at`) so that a late
 * or repeated callback never moves an entity back.
 */
export class SyncLedgerFacts1763800000800 implements MigrationInterface {
  name = 'SyncLedgerFacts1763800000800';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table sync_entity add column last_fact_at timestamptz');
    await q.query(
      `create index sync_entity_reference on sync_entity (target, result_reference)
         where result_reference is not null`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index sync_entity_reference');
    await q.query('alter table sync_entity drop column last_fact_at');
  }
}

/**
 * Parts written ahead: `sent_at` is set (and `sends` counted) just before a part goes to the portal,
 * `pushed_at` right after the portal took it. A part sent but not known pushed (a timeout, a crash)
 * is sent again, and `sends > 1` on a pushed part says the portal may hold it twice: a portal whose
 * lookup does not return parts (DVCQG returns no steps) cannot be asked.
 */
export class SyncLedgerPartSends1763800000900 implements MigrationInterface {
  name = 'SyncLedgerPartSends1763800000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'alter table sync_entity_part add column sent_at timestamptz, add column sends integer not null default 0',
    );
    await q.query(
      'create index sync_entity_part_resent on sync_entity_part (entity_type, entity_key) where sends > 1',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index sync_entity_part_resent');
    await q.query('alter table sync_entity_part drop column sent_at, drop column sends');
  }
}

/**
 * Reconciliation: `drift_detected` holds what a check found (verdict, fields, run) until the
 * repair push lands (then REPAIRED is published); `reconciled_at` is when the entity was last
 * compared with its portal.
 */
export class SyncLedgerReconcile1763800001000 implements MigrationInterface {
  name = 'SyncLedgerReconcile1763800001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'alter table sync_entity add column drift_detected jsonb, add column reconciled_at timestamptz',
    );
    // A run: its scope, its checkpoint (the last key checked) and its counts; one runner at a time
    // by lease, so a killed runner's successor resumes from the checkpoint.
    await q.query(`
      create table reconcile_run (
        id uuid primary key,
        command_id text unique,
        scope jsonb not null,
        dry_run boolean not null,
        rate_per_second double precision not null,
        sample_size integer,
        status text not null default 'running' check (status in ('running', 'verifying', 'finished', 'cancelled')),
        total integer not null,
        cursor text,
        verifying_since timestamptz,
        checked integer not null default 0,
        matched integer not null default 0,
        missing integer not null default 0,
        drifted integer not null default 0,
        in_flux integer not null default 0,
        repaired integer not null default 0,
        verified integer not null default 0,
        lease_owner text,
        lease_until timestamptz,
        started_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        finished_at timestamptz
      )`);
    // What a run found, to verify after the repair and to summarise.
    await q.query(`
      create table reconcile_finding (
        run_id uuid not null references reconcile_run (id) on delete cascade,
        entity_type text not null,
        entity_key text not null,
        verdict text not null,
        drift jsonb not null,
        verified_verdict text,
        verified_at timestamptz,
        primary key (run_id, entity_type, entity_key)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table reconcile_finding');
    await q.query('drop table reconcile_run');
    await q.query('alter table sync_entity drop column drift_detected, drop column reconciled_at');
  }
}

/**
 * Reconciliation on a schedule: `tier` names the scheduled tier a run belongs to (null: started on
 * command), `next_step_at` is when the run may take its next step (its own rate, and a run that
 * waits for repairs to land does not hold up the others).
 */
export class SyncLedgerReconcileSchedule1763800001100 implements MigrationInterface {
  name = 'SyncLedgerReconcileSchedule1763800001100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `alter table reconcile_run add column tier text,
         add column next_step_at timestamptz not null default now()`,
    );
    await q.query(
      `create index reconcile_run_active on reconcile_run (next_step_at)
         where status in ('running', 'verifying')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index reconcile_run_active');
    await q.query('alter table reconcile_run drop column tier, drop column next_step_at');
  }
}

/**
 * An operator's pause of a target (ops command pause-target): every instance stops calling the
 * portal while the row is there, and resumes when resume-target deletes it.
 */
export class SyncLedgerPause1763800001200 implements MigrationInterface {
  name = 'SyncLedgerPause1763800001200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table target_pause (
        target text primary key,
        paused_by text not null,
        reason text not null,
        command_id uuid not null,
        since timestamptz not null default now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table target_pause');
  }
}

/**
 * An operator's pause of communes (ops command pause-communes): the dispatcher claims none of
 * their entities while the row is there; their changes are still received and wait, coalesced.
 */
export class SyncLedgerCommunePause1763800001300 implements MigrationInterface {
  name = 'SyncLedgerCommunePause1763800001300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table commune_pause (
        commune_code text primary key,
        paused_by text not null,
        reason text not null,
        command_id uuid not null,
        since timestamptz not null default now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table commune_pause');
  }
}

/**
 * Claims read due rows per commune, through `sync_entity_due_commune`. The older
 * `sync_entity_due` (target, next_attempt_at) serves no other query, and on a young table (no
 * statistics yet: a new deployment, a bulk import) the planner took it for each commune and
 * filtered every due row of the others: 5.8 ms per claim instead of 1.1 ms, measured in
 * bench:dossier, half of the dispatcher's database time.
 */
export class SyncLedgerClaimIndex1763800001400 implements MigrationInterface {
  name = 'SyncLedgerClaimIndex1763800001400';

  async up(q: QueryRunner): Promise<void> {
    await q.query('drop index if exists sync_entity_due');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `create index sync_entity_due on sync_entity (target, next_attempt_at) where state in ('PENDING', 'RETRYING')`,
    );
  }
}

/**
 * The name a target knows an entity by besides its key (the land registry's SoBienNhan: its
 * callbacks carry nothing else), unique within the target, so that an answer can never be applied
 * to the wrong entity. Written by ingest from each accepted snapshot (LedgerItem.reference);
 * entities ingested before this migration have none until their next snapshot.
 */
export class SyncLedgerReference1763800001500 implements MigrationInterface {
  name = 'SyncLedgerReference1763800001500';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table sync_entity add column reference text');
    await q.query(
      `create unique index sync_entity_target_reference on sync_entity (target, reference)
         where reference is not null`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index if exists sync_entity_target_reference');
    await q.query('alter table sync_entity drop column reference');
  }
}

/**
 * Outbox rows that carry a batch: `payload` is then a JSON array of statuses (in publishing
 * order) and `statuses` says how many; a row of one status keeps its object payload. Ingest and
 * the dispatcher's group commit write one row per transaction instead of one per status: per
 * status, one heap tuple and its index entries fewer when written and again when marked
 * published (measured: the outbox's insert and publish marks were a third of ingest's statement
 * time). `outbox_status` reads any row as one line per status, with the key it is published under.
 */
export class SyncLedgerOutboxBatch1763800001600 implements MigrationInterface {
  name = 'SyncLedgerOutboxBatch1763800001600';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table outbox add column statuses integer not null default 1');
    await q.query(`
      create view outbox_status as
        select o.id, s.n, o.topic,
               case when jsonb_typeof(o.payload) = 'array'
                 then (s.status->'entity'->>'domain') || ':' || (s.status->'entity'->>'key')
                 else o.message_key end as message_key,
               s.status as payload, o.created_at, o.published_at, o.failed_reason, o.xmin::text as tx
          from outbox o
          cross join lateral jsonb_array_elements(
            case when jsonb_typeof(o.payload) = 'array' then o.payload else jsonb_build_array(o.payload) end
          ) with ordinality as s(status, n)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop view if exists outbox_status');
    // A batch row becomes one row per status, in order, before the column goes.
    await q.query(`
      insert into outbox (topic, message_key, payload, created_at, published_at, failed_reason)
        select topic, message_key, payload, created_at, published_at, failed_reason
          from (select o.id, s.n, o.topic,
                       (s.status->'entity'->>'domain') || ':' || (s.status->'entity'->>'key') as message_key,
                       s.status as payload, o.created_at, o.published_at, o.failed_reason
                  from outbox o cross join lateral jsonb_array_elements(o.payload) with ordinality as s(status, n)
                 where jsonb_typeof(o.payload) = 'array') b
         order by id, n`);
    await q.query(`delete from outbox where jsonb_typeof(payload) = 'array'`);
    await q.query('alter table outbox drop column statuses');
  }
}

/**
 * The outbox rows set aside (`failed_reason`), found without reading the outbox: the ledger
 * figures count them every METRICS_REFRESH_MS on every instance, and the outbox keeps its
 * published rows for a while, so that count read the whole table each time. Almost always empty.
 */
export class SyncLedgerOutboxFailedIndex1763800001700 implements MigrationInterface {
  name = 'SyncLedgerOutboxFailedIndex1763800001700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'create index outbox_failed on outbox (id) where failed_reason is not null and published_at is null',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index if exists outbox_failed');
  }
}

/**
 * Columns no statement filters, joins, groups or sorts on get no statistics. ANALYZE sorts a
 * sample of every column to describe it, and nothing reads that description for the ledger's
 * payloads and event fingerprints (64 hex characters, each one different). The table upkeep (or
 * autovacuum) analyses every few thousand changes, each time one backend busy for a moment: on
 * two cores, a stall of everything else that showed in event → SYNCED latency. On a bench ledger
 * of 18,000 parts, analysing `sync_entity_part`, `processed_event` and `outbox` took 351 ms with
 * these columns described, 256 without (test/bench/RESULTS.md).
 * `sync_entity`'s jsonb columns keep theirs: reports filter on `desired` and on nulls of the others.
 */
export class SyncLedgerStatistics1763800001800 implements MigrationInterface {
  name = 'SyncLedgerStatistics1763800001800';

  async up(q: QueryRunner): Promise<void> {
    for (const [table, column] of UNDESCRIBED_COLUMNS)
      await q.query(`alter table ${table} alter column ${column} set statistics 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, column] of UNDESCRIBED_COLUMNS)
      await q.query(`alter table ${table} alter column ${column} set statistics -1`);
  }
}

/** The ledger's columns ANALYZE skips (SyncLedgerStatistics1763800001800). */
export const UNDESCRIBED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['sync_entity_part', 'payload'],
  ['processed_event', 'fingerprint'],
  ['outbox', 'payload'],
];

/** Every sync-ledger migration, in order: include them in a sync service's data source. */
export const SYNC_LEDGER_MIGRATIONS = [
  SyncLedger1763800000300,
  SyncLedgerDispatch1763800000400,
  SyncLedgerHardening1763800000500,
  SyncLedgerTwoPhase1763800000700,
  SyncLedgerFacts1763800000800,
  SyncLedgerPartSends1763800000900,
  SyncLedgerReconcile1763800001000,
  SyncLedgerReconcileSchedule1763800001100,
  SyncLedgerPause1763800001200,
  SyncLedgerCommunePause1763800001300,
  SyncLedgerClaimIndex1763800001400,
  SyncLedgerReference1763800001500,
  SyncLedgerOutboxBatch1763800001600,
  SyncLedgerOutboxFailedIndex1763800001700,
  SyncLedgerStatistics1763800001800,
];
