import { runSyncService } from '@lienthong/sync-service';
import { loadLandSyncConfig } from './config/land-sync.config';
import { landDomain } from './land.domain';

void runSyncService(landDomain, () => loadLandSyncConfig());
