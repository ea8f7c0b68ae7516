import type { JSONSchemaType } from 'ajv';
import { loadConfig } from '@lienthong/config';

export interface PortalSimConfig {
  PORT: number;
  HOST: string;
  DATABASE_URL: string;
  /** The schema portal-sim owns; its state survives restarts there. */
  PORTAL_SIM_SCHEMA: string;
  /** Lifetime of DVCQG sessions and of the bearer tokens of the other APIs. */
  PORTAL_SIM_SESSION_TTL_SECONDS: number;
  /** user:password[,user:password…] accepted by each API. */
  PORTAL_SIM_DVCQG_USERS: string;
  PORTAL_SIM_CIVIL_CLIENTS: string;
  PORTAL_SIM_LAND_USERS: string;
  /** How long the civil-status registry takes before a result is available (asynchronous). */
  PORTAL_SIM_CIVIL_RESULT_DELAY_MS: number;
  /** Share of registrations the registry asks a supplement for (once), and that never get an answer. */
  PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO: number;
  PORTAL_SIM_CIVIL_NO_RESULT_RATIO: number;
  /** How long each land-dossier stage lasts before the next one. */
  PORTAL_SIM_LAND_STEP_MS: number;
  /** Share of land dossiers the registry asks a supplement for (once). */
  PORTAL_SIM_LAND_SUPPLEMENT_RATIO: number;
  /** Where the land registry calls back (land-sync's endpoint); empty: no callbacks. */
  PORTAL_SIM_LAND_CALLBACK_URL: string;
  /** Callback faults: a share lost (never sent), a share sent twice, and a random delay that reorders them. */
  PORTAL_SIM_LAND_CALLBACK_LOSS_RATIO: number;
  PORTAL_SIM_LAND_CALLBACK_DUPLICATE_RATIO: number;
  PORTAL_SIM_LAND_CALLBACK_JITTER_MS: number;
  /** Start-up fault profiles as JSON: {"dvcqg": {...}, "civil-status": {...}, "land": {...}} (portal-sim README). */
  PORTAL_SIM_FAULTS: string;
  /**
   * The simulated identity provider of commune systems (OAuth2 client credentials, for
   * ingest-gateway): `client_id:secret:commune|province:code[,…]`; with PORTAL_SIM_IDP_DEMO=1,
   * also every `commune-<code>` and `province-<code>` client whose secret is `<client_id>-demo`.
   */
  PORTAL_SIM_IDP_CLIENTS: string;
  PORTAL_SIM_IDP_DEMO: number;
  PORTAL_SIM_IDP_ISSUER: string;
  PORTAL_SIM_IDP_AUDIENCE: string;
  PORTAL_SIM_IDP_TOKEN_TTL_SECONDS: number;
  /** The bearer token of the admin API (faults, effects, resets); empty: the admin API is off. */
  PORTAL_SIM_ADMIN_TOKEN: string;
}

const credentials = { type: 'string', pattern: '^[^:,]+:[^,]+(,[^:,]+:[^,]+)*$' } as const;

const schema: JSONSchemaType<PortalSimConfig> = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8090 },
    HOST: { type: 'string', default: '127.0.0.1' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    PORTAL_SIM_SCHEMA: {
      type: 'string',
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
      default: 'portal_sim',
    },
    PORTAL_SIM_SESSION_TTL_SECONDS: { type: 'integer', minimum: 1, default: 1800 },
    PORTAL_SIM_DVCQG_USERS: { ...credentials, default: 'lienthong:lienthong-dvcqg' },
    PORTAL_SIM_CIVIL_CLIENTS: { ...credentials, default: 'lienthong:lienthong-hotich' },
    PORTAL_SIM_LAND_USERS: { ...credentials, default: 'lienthong:lienthong-land' },
    PORTAL_SIM_CIVIL_RESULT_DELAY_MS: { type: 'integer', minimum: 0, default: 1000 },
    PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO: { type: 'number', minimum: 0, maximum: 1, default: 0.02 },
    PORTAL_SIM_CIVIL_NO_RESULT_RATIO: { type: 'number', minimum: 0, maximum: 1, default: 0 },
    PORTAL_SIM_LAND_STEP_MS: { type: 'integer', minimum: 0, default: 2000 },
    PORTAL_SIM_LAND_SUPPLEMENT_RATIO: { type: 'number', minimum: 0, maximum: 1, default: 0.02 },
    PORTAL_SIM_LAND_CALLBACK_URL: { type: 'string', pattern: '^(https?://.*)?$', default: '' },
    PORTAL_SIM_LAND_CALLBACK_LOSS_RATIO: { type: 'number', minimum: 0, maximum: 1, default: 0 },
    PORTAL_SIM_LAND_CALLBACK_DUPLICATE_RATIO: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0,
    },
    PORTAL_SIM_LAND_CALLBACK_JITTER_MS: { type: 'integer', minimum: 0, default: 0 },
    PORTAL_SIM_FAULTS: { type: 'string', default: '{}' },
    PORTAL_SIM_IDP_CLIENTS: {
      type: 'string',
      pattern:
        '^$|^[^:,]+:[^:,]+:(commune:[0-9]{5}|province:[0-9]{2})(,[^:,]+:[^:,]+:(commune:[0-9]{5}|province:[0-9]{2}))*$',
      default: '',
    },
    PORTAL_SIM_IDP_DEMO: { type: 'integer', enum: [0, 1], default: 1 },
    PORTAL_SIM_IDP_ISSUER: { type: 'string', minLength: 1, default: 'lienthong-idp-sim' },
    PORTAL_SIM_IDP_AUDIENCE: { type: 'string', minLength: 1, default: 'lienthong-ingest' },
    PORTAL_SIM_IDP_TOKEN_TTL_SECONDS: { type: 'integer', minimum: 5, default: 300 },
    PORTAL_SIM_ADMIN_TOKEN: { type: 'string', pattern: '^(|[!-~]{16,})$', default: '' },
  },
  required: [
    'PORT',
    'HOST',
    'DATABASE_URL',
    'PORTAL_SIM_SCHEMA',
    'PORTAL_SIM_SESSION_TTL_SECONDS',
    'PORTAL_SIM_DVCQG_USERS',
    'PORTAL_SIM_CIVIL_CLIENTS',
    'PORTAL_SIM_LAND_USERS',
    'PORTAL_SIM_CIVIL_RESULT_DELAY_MS',
    'PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO',
    'PORTAL_SIM_CIVIL_NO_RESULT_RATIO',
    'PORTAL_SIM_LAND_STEP_MS',
    'PORTAL_SIM_LAND_SUPPLEMENT_RATIO',
    'PORTAL_SIM_LAND_CALLBACK_URL',
    'PORTAL_SIM_LAND_CALLBACK_LOSS_RATIO',
    'PORTAL_SIM_LAND_CALLBACK_DUPLICATE_RATIO',
    'PORTAL_SIM_LAND_CALLBACK_JITTER_MS',
    'PORTAL_SIM_FAULTS',
    'PORTAL_SIM_IDP_CLIENTS',
    'PORTAL_SIM_IDP_DEMO',
    'PORTAL_SIM_IDP_ISSUER',
    'PORTAL_SIM_IDP_AUDIENCE',
    'PORTAL_SIM_IDP_TOKEN_TTL_SECONDS',
    'PORTAL_SIM_ADMIN_TOKEN',
  ],
  additionalProperties: false,
};

export function loadPortalSimConfig(env: NodeJS.ProcessEnv = process.env): PortalSimConfig {
  return loadConfig('portal-sim', schema, env);
}
