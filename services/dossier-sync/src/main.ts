import { runSyncService } from '@lienthong/sync-service';
import { loadDossierSyncConfig } from './config/dossier-sync.config';
import { dossierDomain } from './dossier.domain';

void runSyncService(dossierDomain, () => loadDossierSyncConfig());
