import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * sync-monitor's read model, built only from what the sync services publish (sync.status.v2,
 * sync.health.v2, sync.reconcile.v1, the dead-letter topics): never from their tables.
 */
export class ReadModel1763800002000 implements MigrationInterface {
  name = 'ReadModel1763800002000';

  async up(q: QueryRunner): Promise<void> {
    // One row per entity: where its sync stands, as its last status said.
    await q.query(`
      create table entity_state (
        domain text not null,
        entity_key text not null,
        entity_type text not null,
        commune_code char(5) not null,
        province_code char(2) not null,
        state text not null,
        sequence bigint not null,
        last_event_at timestamptz not null,
        synced_at timestamptz,
        unsynced_since timestamptz,
        drift_open boolean not null default false,
        drift_count integer not null default 0,
        repaired_count integer not null default 0,
        primary key (domain, entity_key)
      )`);
    await q.query(
      'create index entity_state_place on entity_state (province_code, commune_code, domain)',
    );
    // Every status of every entity: its timeline (no payloads: codes, references, field names).
    await q.query(`
      create table entity_event (
        id bigserial primary key,
        event_id text not null unique,
        domain text not null,
        entity_key text not null,
        state text not null,
        sequence bigint not null,
        attempt integer not null,
        target text not null,
        occurred_at timestamptz not null,
        detail jsonb not null
      )`);
    await q.query('create index entity_event_entity on entity_event (domain, entity_key, id)');
    await q.query(`
      create table dead_letter (
        id bigserial primary key,
        dlq_topic text not null,
        dlq_partition integer not null,
        dlq_offset bigint not null,
        source_topic text not null,
        stage text not null,
        code text not null,
        field text,
        rule text,
        message text not null,
        event_type text,
        subject text,
        commune_code char(5),
        province_code char(2),
        attempts integer not null,
        first_failure_at timestamptz not null,
        last_failure_at timestamptz not null,
        signature char(64) not null,
        status text not null default 'open' check (status in ('open', 'replayed', 'discarded')),
        resolved_at timestamptz,
        resolved_by text,
        resolution text,
        recorded_at timestamptz not null default now(),
        unique (dlq_topic, dlq_partition, dlq_offset)
      )`);
    await q.query('create index dead_letter_group on dead_letter (signature, status)');
    // The latest sync.health.v2 report of each instance and target, and a history for charts.
    await q.query(`
      create table target_health (
        service text not null,
        instance text not null,
        target text not null,
        report jsonb not null,
        reported_at timestamptz not null,
        primary key (service, instance, target)
      )`);
    await q.query(`
      create table health_sample (
        id bigserial primary key,
        service text not null,
        instance text not null,
        target text not null,
        reported_at timestamptz not null,
        breaker text not null,
        pending integer not null,
        retrying integer not null,
        rejected integer not null,
        oldest_pending_age_seconds double precision not null,
        consumer_lag bigint not null
      )`);
    await q.query('create index health_sample_time on health_sample (target, reported_at)');
    // The latest progress of each reconciliation run (its last message is its summary).
    await q.query(`
      create table reconcile_run (
        id uuid primary key,
        service text not null,
        status text not null,
        progress jsonb not null,
        updated_at timestamptz not null
      )`);
    // Who did what, when, on which scope, and what came of it.
    await q.query(`
      create table audit_log (
        id bigserial primary key,
        at timestamptz not null default now(),
        operator text not null,
        role text not null,
        action text not null,
        scope jsonb not null,
        command_id uuid,
        outcome text not null,
        detail text
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'audit_log',
      'reconcile_run',
      'health_sample',
      'target_health',
      'dead_letter',
      'entity_event',
      'entity_state',
    ])
      await q.query(`drop table ${t}`);
  }
}
