import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each commune's latest Decision-766 counts (sync.indicators.v1), per domain. */
export class CommuneIndicators1763800002300 implements MigrationInterface {
  name = 'CommuneIndicators1763800002300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table commune_indicators (
        domain text not null,
        commune_code text not null,
        province_code text not null,
        period_from date not null,
        period_to date not null,
        measured_on date not null,
        counts jsonb not null,
        computed_at timestamptz not null,
        primary key (domain, commune_code)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table commune_indicators');
  }
}
