import type { EnvVar } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';
import { loadSyncServiceConfig, portalVars, syncServiceVars } from '@lienthong/sync-service';

export const SERVICE_NAME = 'dossier-sync';

/** Every variable dossier-sync reads, declared once: the kit's, DVCQG's gateway, DVCQG's account. */
export const DOSSIER_SYNC_VARS = {
  ...syncServiceVars({ service: SERVICE_NAME, port: 8091, topic: TOPICS.communeDossierEvents }),
  ...portalVars('DVCQG'),
  DVCQG_BASE_URL: {
    type: 'string',
    pattern: '^https?://',
    default: 'http://127.0.0.1:8090',
    description: 'DVCQG endpoint',
  },
  DVCQG_USERNAME: {
    type: 'string',
    minLength: 1,
    default: 'lienthong',
    description: 'DVCQG account',
  },
  DVCQG_PASSWORD: {
    type: 'string',
    minLength: 1,
    default: 'lienthong-dvcqg',
    description: 'DVCQG password',
  },
  DVCQG_UNIT_CODE: {
    type: 'string',
    minLength: 1,
    default: 'H56',
    description: 'madonvi: the unit the account syncs for',
  },
} as const satisfies Record<string, EnvVar>;

export type DossierSyncConfig = ReturnType<typeof loadDossierSyncConfig>;

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadDossierSyncConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadSyncServiceConfig(SERVICE_NAME, DOSSIER_SYNC_VARS, env);
}
