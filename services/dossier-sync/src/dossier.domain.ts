import { TOPICS } from '@lienthong/contracts';
import { DvcqgClient } from '@lienthong/portal-clients';
import type { SyncDomain } from '@lienthong/sync-service';
import { SERVICE_NAME } from './config/dossier-sync.config';
import type { DossierSyncConfig } from './config/dossier-sync.config';
import { DvcqgPushTarget } from './modules/dvcqg/dvcqg.push-target';
import { dossierIndicators } from './modules/indicators/dossier-indicators';
import { dossierLedgerItem } from './modules/ingest/dossier-ledger-item';

/** Dossier events → DVCQG: the whole of what dossier-sync adds to the kit. */
export const dossierDomain: SyncDomain<DossierSyncConfig> = {
  service: SERVICE_NAME,
  contractTopic: TOPICS.communeDossierEvents,
  ledgerItem: dossierLedgerItem,
  // A dossier is final once rejected at intake (3), stopped (8) or its result returned (10).
  open: { field: 'TrangThaiHoSo', terminal: ['3', '8', '10'] },
  indicators: dossierIndicators,
  target: {
    name: 'dvcqg',
    prefix: 'DVCQG',
    pushTarget: (gateway, config) =>
      new DvcqgPushTarget(
        new DvcqgClient(
          {
            baseUrl: config.DVCQG_BASE_URL,
            username: config.DVCQG_USERNAME,
            password: config.DVCQG_PASSWORD,
            unitCode: config.DVCQG_UNIT_CODE,
          },
          gateway,
        ),
        gateway,
      ),
  },
};
