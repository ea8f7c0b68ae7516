import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The simulated portals' state: it survives restarts, like the real systems' databases. */
export class PortalState1763800000000 implements MigrationInterface {
  name = 'PortalState1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table access_token (
        token text primary key,
        api text not null,
        principal text not null,
        expires_at timestamptz not null
      )`);
    await q.query(`
      create table write_effect (
        api text not null,
        entity_key text not null,
        operation text not null,
        writes integer not null default 0,
        changes integer not null default 0,
        last_write_at timestamptz not null default now(),
        primary key (api, entity_key, operation)
      )`);
    await q.query(`
      create table dvcqg_dossier (
        ma_ho_so text primary key,
        unit text not null,
        header jsonb not null,
        inserted_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    await q.query(`
      create table dvcqg_step (
        id bigserial primary key,
        ma_ho_so text not null,
        step jsonb not null,
        received_at timestamptz not null default now()
      )`);
    await q.query(`create index dvcqg_step_dossier on dvcqg_step (ma_ho_so, id)`);
    await q.query(`
      create table civil_registration (
        ma_dinh_danh_ho_so text primary key,
        module text not null,
        ma_tinh text not null,
        payload jsonb not null,
        submitted_at timestamptz not null default now(),
        ready_at timestamptz not null,
        outcome text not null,
        result jsonb,
        refusal text
      )`);
    await q.query(`create sequence civil_personal_id_seq`);
    await q.query(`create sequence civil_register_no_seq`);
    await q.query(`
      create table land_dossier (
        ma_ho_so_mot_cua text primary key,
        payload jsonb not null,
        status text not null,
        history jsonb not null,
        tax_notice jsonb,
        received_at timestamptz not null default now(),
        next_transition_at timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'land_dossier',
      'civil_registration',
      'dvcqg_step',
      'dvcqg_dossier',
      'write_effect',
      'access_token',
    ]) {
      await q.query(`drop table ${t}`);
    }
    await q.query('drop sequence civil_register_no_seq');
    await q.query('drop sequence civil_personal_id_seq');
  }
}
