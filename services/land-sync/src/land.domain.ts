import { TOPICS } from '@lienthong/contracts';
import { LandClient } from '@lienthong/portal-clients';
import type { SyncDomain } from '@lienthong/sync-service';
import { SERVICE_NAME } from './config/land-sync.config';
import type { LandSyncConfig } from './config/land-sync.config';
import { landLedgerItem } from './land-ledger-item';
import { LandCallbackController } from './registry/land-callback.controller';
import { LandPushTarget } from './registry/land.push-target';

/** Land events → the land registry, followed through its callbacks: the whole of what land-sync adds to the kit. */
export const landDomain: SyncDomain<LandSyncConfig> = {
  service: SERVICE_NAME,
  contractTopic: TOPICS.communeLandEvents,
  ledgerItem: landLedgerItem,
  target: {
    name: 'land-registry',
    prefix: 'LAND',
    pushTarget: (gateway, config) =>
      new LandPushTarget(
        new LandClient(
          {
            baseUrl: config.LAND_BASE_URL,
            username: config.LAND_USERNAME,
            password: config.LAND_PASSWORD,
          },
          gateway,
        ),
        gateway,
        config.LAND_CALLBACK_SECRET,
      ),
  },
  controllers: [LandCallbackController],
};
