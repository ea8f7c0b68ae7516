import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The registries as public integrations show them (docs/domain.md): the civil-status registry's
 * stages (waiting for intake, supplement requested, processing, result, refused) and amendments;
 * the land registry's callbacks to the one-stop system and its supplement stage.
 */
export class Registries1763800000900 implements MigrationInterface {
  name = 'Registries1763800000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `alter table civil_registration
         add column ma_don_vi text,
         add column intake_at timestamptz,
         add column supplement_deadline timestamptz,
         add column updated_at timestamptz not null default now()`,
    );
    await q.query(
      `create table civil_amendment (
         ma_yeu_cau text primary key,
         ma_ho_so text not null,
         data jsonb not null,
         received_at timestamptz not null default now()
       )`,
    );
    await q.query(
      `alter table land_dossier
         add column security_code text,
         add column supplement_requested boolean not null default false,
         add column supplemented_at timestamptz`,
    );
    await q.query(
      `create table land_callback (
         id bigserial primary key,
         ma_ho_so_mot_cua text not null,
         kind text not null,
         body jsonb not null,
         due_at timestamptz not null,
         attempts integer not null default 0,
         delivered_at timestamptz,
         dropped boolean not null default false
       )`,
    );
    await q.query(
      `create index land_callback_due on land_callback (due_at) where delivered_at is null and not dropped`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table land_callback');
    await q.query(
      'alter table land_dossier drop column security_code, drop column supplement_requested, drop column supplemented_at',
    );
    await q.query('drop table civil_amendment');
    await q.query(
      'alter table civil_registration drop column ma_don_vi, drop column intake_at, drop column supplement_deadline, drop column updated_at',
    );
  }
}
