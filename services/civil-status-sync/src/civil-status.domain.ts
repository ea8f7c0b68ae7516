import { TOPICS } from '@lienthong/contracts';
import { CivilStatusClient } from '@lienthong/portal-clients';
import type { SyncDomain } from '@lienthong/sync-service';
import { civilStatusLedgerItem } from './civil-status-ledger-item';
import { SERVICE_NAME } from './config/civil-status-sync.config';
import type { CivilStatusSyncConfig } from './config/civil-status-sync.config';
import { CivilStatusPushTarget } from './registry/civil-status.push-target';

/** Civil-status events → the civil-status registry: the whole of what civil-status-sync adds to the kit. */
export const civilStatusDomain: SyncDomain<CivilStatusSyncConfig> = {
  service: SERVICE_NAME,
  contractTopic: TOPICS.communeCivilStatusEvents,
  ledgerItem: civilStatusLedgerItem,
  target: {
    name: 'civil-status-registry',
    prefix: 'CIVIL',
    pushTarget: (gateway, config) =>
      new CivilStatusPushTarget(
        new CivilStatusClient(
          {
            baseUrl: config.CIVIL_BASE_URL,
            clientId: config.CIVIL_CLIENT_ID,
            clientSecret: config.CIVIL_CLIENT_SECRET,
          },
          gateway,
        ),
        gateway,
      ),
  },
};
