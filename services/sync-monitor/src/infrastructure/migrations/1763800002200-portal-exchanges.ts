import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sync services' portal exchanges (sync.exchanges.v1): the portal charts (latency percentiles,
 * error and 429 rates per minute) and the digests on an entity's timeline. One row per exchange,
 * named by what identifies it (a redelivered one is applied once); kept
 * MONITOR_EXCHANGE_RETENTION_HOURS.
 */
export class PortalExchanges1763800002200 implements MigrationInterface {
  name = 'PortalExchanges1763800002200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table portal_exchange (
        id bigserial primary key,
        service text not null,
        instance text not null,
        target text not null,
        operation text not null,
        correlation_id text not null,
        attempt integer not null,
        started_at timestamptz not null,
        duration_ms integer not null,
        outcome text not null,
        http_status integer,
        portal_code text,
        error_code text,
        request_sha256 text,
        response_sha256 text,
        -- A push's entity (from its correlation id: <type>:<key>:<sequence>:<attempt>).
        entity_type text,
        entity_key text,
        unique (service, instance, correlation_id, attempt, started_at)
      )`);
    await q.query('create index portal_exchange_time on portal_exchange (started_at)');
    await q.query(
      'create index portal_exchange_entity on portal_exchange (entity_key) where entity_key is not null',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table portal_exchange');
  }
}
