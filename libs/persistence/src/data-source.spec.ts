import { dataSourceOptions } from './data-source';

describe('dataSourceOptions', () => {
  const options = dataSourceOptions({
    url: 'postgres://postgres@127.0.0.1:5432/lienthong',
    schema: 'dossier_sync',
    migrations: [],
    applicationName: 'dossier-sync',
  });

  it('never synchronizes the schema from entities: changes go through migrations', () => {
    expect(options).toMatchObject({ synchronize: false, migrationsRun: false });
  });

  it('keeps the service in its own schema, migrations table included', () => {
    expect(options).toMatchObject({
      type: 'postgres',
      schema: 'dossier_sync',
      migrationsTableName: 'typeorm_migrations',
      applicationName: 'dossier-sync',
      extra: {
        options: '-c search_path="dossier_sync",public -c plan_cache_mode=force_generic_plan',
      },
    });
  });
});
