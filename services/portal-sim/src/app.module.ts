import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { dataSourceOptions, openDataSource } from '@lienthong/persistence';
import type { PortalSimConfig } from './config/portal-sim.config';
import { PortalSimSettings } from './config/portal-sim.settings';
import { PortalSimUpkeep } from './infrastructure/table-upkeep.lifecycle';
import { PortalState1763800000000 } from './infrastructure/migrations/1763800000000-portal-state';
import { Registries1763800000900 } from './infrastructure/migrations/1763800000900-registries';
import { LandReceived1763800001000 } from './infrastructure/migrations/1763800001000-land-received';
import { LookupIndexes1763800001100 } from './infrastructure/migrations/1763800001100-lookup-indexes';
import { CivilCertificateLock1763800001200 } from './infrastructure/migrations/1763800001200-civil-certificate-lock';
import { HealthModule } from './modules/health/health.module';
import { PortalsModule } from './modules/portals.module';

@Global()
@Module({})
export class AppModule {
  static register(config: PortalSimConfig): DynamicModule {
    const persistence = {
      url: config.DATABASE_URL,
      schema: config.PORTAL_SIM_SCHEMA,
      migrations: [
        PortalState1763800000000,
        Registries1763800000900,
        LandReceived1763800001000,
        LookupIndexes1763800001100,
        CivilCertificateLock1763800001200,
      ],
      applicationName: 'portal-sim',
    };
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(persistence),
          // openDataSource creates the schema and runs migrations under an advisory lock.
          dataSourceFactory: () => openDataSource(persistence),
        }),
        HealthModule,
        PortalsModule,
      ],
      providers: [
        { provide: PortalSimSettings, useValue: new PortalSimSettings(config) },
        {
          provide: PortalSimUpkeep,
          inject: [getDataSourceToken()],
          useFactory: (db: DataSource) => new PortalSimUpkeep(db, config.PORTAL_SIM_SCHEMA),
        },
      ],
      exports: [PortalSimSettings],
    };
  }
}
