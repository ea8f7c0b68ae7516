import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the one-stop last sent of a land dossier, apart from the registry's copy (which the
 * registry may edit or lose): a finished dossier sent again with exactly that content is a
 * restore of the registry's copy; different content is a correction, refused after the end.
 */
export class LandReceived1763800001000 implements MigrationInterface {
  name = 'LandReceived1763800001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('alter table land_dossier add column received jsonb');
    await q.query('update land_dossier set received = payload');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table land_dossier drop column received');
  }
}
