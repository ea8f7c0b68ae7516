import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `civil_certificate_used(certificate)`: takes the certificate's lock, held until the caller's
 * transaction ends, then says whether a birth registration not refused already uses it. Two
 * submissions of one certificate at once must not both find it unused, and a statement sees only
 * what was committed when it began: the look-up has to start after the lock is granted. A volatile
 * PL/pgSQL function takes a fresh snapshot for each query it runs, so a new registration's insert
 * calls it and needs no transaction of its own (it took four round trips: begin, the lock, the
 * insert, commit). Its look-up is CIVIL_LOOKUPS.certificateUsed (civil-status.service.ts), whose
 * index test/lookups.e2e-spec.ts checks; a change to one is a new migration of the other.
 */
export class CivilCertificateLock1763800001200 implements MigrationInterface {
  name = 'CivilCertificateLock1763800001200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `create function civil_certificate_used(certificate text) returns boolean
         language plpgsql volatile as $$
       begin
         perform pg_advisory_xact_lock(hashtext('maGCS:' || certificate));
         return exists (select 1 from civil_registration
           where module = 'LTKS' and payload->>'maGCS' = certificate and outcome <> 'refused');
       end $$`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop function civil_certificate_used(text)');
  }
}
