import type { EnvVar } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';
import { loadSyncServiceConfig, portalVars, syncServiceVars } from '@lienthong/sync-service';

export const SERVICE_NAME = 'civil-status-sync';

/** Every variable civil-status-sync reads, declared once: the kit's, the registry's gateway, its account. */
export const CIVIL_STATUS_SYNC_VARS = {
  ...syncServiceVars({ service: SERVICE_NAME, port: 8093, topic: TOPICS.communeCivilStatusEvents }),
  ...portalVars('CIVIL'),
  CIVIL_BASE_URL: {
    type: 'string',
    pattern: '^https?://',
    default: 'http://127.0.0.1:8090',
    description: 'civil-status registry endpoint',
  },
  CIVIL_CLIENT_ID: {
    type: 'string',
    minLength: 1,
    default: 'lienthong',
    description: 'registry client id',
  },
  CIVIL_CLIENT_SECRET: {
    type: 'string',
    minLength: 1,
    default: 'lienthong-hotich',
    description: 'registry client secret',
  },
} as const satisfies Record<string, EnvVar>;

export type CivilStatusSyncConfig = ReturnType<typeof loadCivilStatusSyncConfig>;

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadCivilStatusSyncConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadSyncServiceConfig(SERVICE_NAME, CIVIL_STATUS_SYNC_VARS, env);
}
