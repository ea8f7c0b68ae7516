import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the sync services answered to each command (ops.command-results.v1), and the CloudEvents
 * id of each dead letter (a replay names the letters it sent back by it).
 */
export class CommandResults1763800002100 implements MigrationInterface {
  name = 'CommandResults1763800002100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table command_result (
        command_id uuid not null,
        service text not null,
        instance text not null,
        command text not null,
        outcome text not null,
        detail text not null,
        result jsonb not null,
        answered_at timestamptz not null,
        primary key (command_id, service)
      )`);
    await q.query('alter table dead_letter add column event_id text');
    await q.query(
      'create index dead_letter_event on dead_letter (event_id) where event_id is not null',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('alter table dead_letter drop column event_id');
    await q.query('drop table command_result');
  }
}
