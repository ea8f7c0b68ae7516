import { dataSourceOptions } from './data-source';

describe('dataSourceOptions', () => {
  const config = {
    url: 'postgres://postgres@127.0.0.1:5432/lienthong',
    schema: 'dossier_sync',
    migrations: [],
    applicationName: 'dossier-sync',
  };
  const options = dataSourceOptions(config, {});

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

  it("keeps an operator's PGOPTIONS, before its own settings, which win where both set one", () => {
    const withEnv = dataSourceOptions(config, {
      PGOPTIONS: ' -c statement_timeout=5s -c search_path=elsewhere ',
    });
    expect(withEnv.extra).toEqual({
      options:
        '-c statement_timeout=5s -c search_path=elsewhere -c search_path="dossier_sync",public -c plan_cache_mode=force_generic_plan',
    });
    expect(dataSourceOptions(config, { PGOPTIONS: '  ' }).extra).toEqual(options.extra);
  });
});
