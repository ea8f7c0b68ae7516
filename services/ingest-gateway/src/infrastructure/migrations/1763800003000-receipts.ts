import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One receipt per event taken (CloudEvents source + id): a repeat with the same content is
 * answered as a duplicate without publishing it again; a repeat with other content is refused.
 * No payload is kept, only its digest (personal data stays out of this table).
 */
export class Receipts1763800003000 implements MigrationInterface {
  name = 'Receipts1763800003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table receipt (
        source text not null,
        id text not null,
        digest char(64) not null,
        event_type text not null,
        topic text not null,
        commune_code char(5) not null,
        client text not null,
        received_at timestamptz not null default now(),
        primary key (source, id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table receipt');
  }
}
