import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index for each lookup the registries make on tables that grow with every registration
 * (CIVIL_LOOKUPS, LAND_DUE): without them each birth submission and each tick of the land
 * registry's clock read the whole table, and a simulator holding 50,000 registrations became what
 * limited a benchmark (bench:registries, civil status's outage backlog: 422.6 s against 100.9 s
 * on a simulator holding 16,000).
 */
export class LookupIndexes1763800001100 implements MigrationInterface {
  name = 'LookupIndexes1763800001100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'create index civil_amendment_registration on civil_amendment (ma_ho_so, received_at)',
    );
    await q.query(
      `create index civil_registration_birth_certificate on civil_registration ((payload->>'maGCS'))
         where module = 'LTKS' and outcome <> 'refused'`,
    );
    await q.query(
      `create index land_dossier_due on land_dossier (next_transition_at)
         where next_transition_at is not null`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop index land_dossier_due');
    await q.query('drop index civil_registration_birth_certificate');
    await q.query('drop index civil_amendment_registration');
  }
}
