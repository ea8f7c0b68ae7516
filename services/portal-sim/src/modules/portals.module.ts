import { Module } from '@nestjs/common';
import type { MiddlewareConsumer, NestModule } from '@nestjs/common';
import { TokenStore } from './auth/token.store';
import { EffectsStore } from './effects/effects.store';
import { FaultRegistry } from './faults/fault-registry.service';
import { faultMiddleware } from './faults/fault.middleware';
import { DvcqgController } from './dvcqg/dvcqg.controller';
import { DvcqgService } from './dvcqg/dvcqg.service';
import { DvcqgStore } from './dvcqg/dvcqg.store';
import { CivilStatusController } from './civil-status/civil-status.controller';
import { CivilStatusService } from './civil-status/civil-status.service';
import { LandController } from './land/land.controller';
import { LandService } from './land/land.service';
import { AdminController } from './admin/admin.controller';
import { IdentityController } from './identity/identity.controller';
import { adminTokenMiddleware } from '@lienthong/observability';
import { PortalSimSettings } from '../config/portal-sim.settings';

/** The three simulated national APIs, their shared auth and write counters, the admin API, and the commune systems' identity provider. */
@Module({
  controllers: [
    DvcqgController,
    CivilStatusController,
    LandController,
    AdminController,
    IdentityController,
  ],
  providers: [
    TokenStore,
    EffectsStore,
    DvcqgStore,
    DvcqgService,
    CivilStatusService,
    LandService,
    {
      provide: FaultRegistry,
      inject: [PortalSimSettings],
      useFactory: (s: PortalSimSettings) => new FaultRegistry(s.faults),
    },
  ],
})
export class PortalsModule implements NestModule {
  constructor(
    private readonly faults: FaultRegistry,
    private readonly settings: PortalSimSettings,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    // The admin API changes what the portals hold and how they fail: a bearer token, always.
    consumer
      .apply(adminTokenMiddleware(this.settings.adminToken, 'PORTAL_SIM_ADMIN_TOKEN'))
      .forRoutes(AdminController);
    // Faults sit in front of the portal APIs only: admin and health always answer.
    consumer.apply(faultMiddleware('dvcqg', this.faults)).forRoutes(DvcqgController);
    consumer.apply(faultMiddleware('civil-status', this.faults)).forRoutes(CivilStatusController);
    consumer.apply(faultMiddleware('land', this.faults)).forRoutes(LandController);
  }
}
