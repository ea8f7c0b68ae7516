import type { EnvVar } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';
import { loadSyncServiceConfig, portalVars, syncServiceVars } from '@lienthong/sync-service';

export const SERVICE_NAME = 'land-sync';

const kit = syncServiceVars({ service: SERVICE_NAME, port: 8094, topic: TOPICS.communeLandEvents });

/** Every variable land-sync reads, declared once: the kit's, the registry's gateway, its account. */
export const LAND_SYNC_VARS = {
  ...kit,
  // The registry calls back at each stage; lookups only catch what callbacks missed.
  POLL_INITIAL_MS: {
    ...kit.POLL_INITIAL_MS,
    default: 30_000,
    description: 'first lookup of a dossier whose callbacks do not come',
  },
  ...portalVars('LAND'),
  LAND_BASE_URL: {
    type: 'string',
    pattern: '^https?://',
    default: 'http://127.0.0.1:8090',
    description: 'land registry endpoint',
  },
  LAND_USERNAME: {
    type: 'string',
    minLength: 1,
    default: 'lienthong',
    description: 'registry account',
  },
  LAND_PASSWORD: {
    type: 'string',
    minLength: 1,
    default: 'lienthong-land',
    description: 'registry password',
  },
  LAND_CALLBACK_SECRET: {
    type: 'string',
    minLength: 16,
    default: 'local-demo-land-callback-secret',
    description: "key of each dossier's SecurityCode (HMAC of SoBienNhan) that callbacks must echo",
  },
} as const satisfies Record<string, EnvVar>;

export type LandSyncConfig = ReturnType<typeof loadLandSyncConfig>;

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadLandSyncConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadSyncServiceConfig(SERVICE_NAME, LAND_SYNC_VARS, env);
}
