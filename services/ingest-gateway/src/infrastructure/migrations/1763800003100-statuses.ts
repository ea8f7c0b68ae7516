import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The latest sync.status.v2 of each entity, for its commune's system to read through the API
 * (statuses carry no personal data; results with personal data stay where they are, by reference).
 */
export class Statuses1763800003100 implements MigrationInterface {
  name = 'Statuses1763800003100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table entity_status (
        domain text not null,
        entity_key text not null,
        commune_code char(5) not null,
        province_code char(2) not null,
        state text not null,
        sequence bigint not null,
        status jsonb not null,
        changed_at timestamptz not null,
        primary key (domain, entity_key)
      )`);
    await q.query('create index entity_status_commune on entity_status (commune_code, changed_at)');
    await q.query(
      'create index entity_status_province on entity_status (province_code, changed_at)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table entity_status');
  }
}
