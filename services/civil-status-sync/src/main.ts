import { runSyncService } from '@lienthong/sync-service';
import { civilStatusDomain } from './civil-status.domain';
import { loadCivilStatusSyncConfig } from './config/civil-status-sync.config';

void runSyncService(civilStatusDomain, () => loadCivilStatusSyncConfig());
