import { ConfigError, loadEnvConfig, serviceVars } from '@lienthong/config';
import type { EnvVar } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';

export const SERVICE_NAME = 'ingest-gateway';

/** Every variable ingest-gateway reads, declared once: type, default, rule and meaning. */
export const INGEST_GATEWAY_VARS = {
  ...serviceVars({ service: SERVICE_NAME, port: 8096, holds: 'the receipts and statuses' }),
  SYNC_STATUS_V2_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.syncStatusV2,
    description: 'the statuses communes read back (tests use a copy)',
  },
  DOSSIER_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.communeDossierEvents,
    description: 'where dossier events go (tests use a copy)',
  },
  CIVIL_STATUS_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.communeCivilStatusEvents,
    description: 'where civil-status events go',
  },
  LAND_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.communeLandEvents,
    description: 'where land events go',
  },
  OAUTH_ISSUER: {
    type: 'string',
    minLength: 1,
    description: "the identity provider's issuer (`iss` of the access tokens)",
  },
  OAUTH_AUDIENCE: {
    type: 'string',
    minLength: 1,
    default: 'lienthong-ingest',
    description: 'the audience the access tokens must name',
  },
  OAUTH_JWKS_URL: {
    type: 'string',
    pattern: '^https?://',
    description: "the identity provider's public keys (its jwks_uri)",
  },
  RATE_PER_SECOND: {
    type: 'integer',
    minimum: 1,
    default: 50,
    description: 'events a commune (or province system) may post per second, per instance',
  },
  RATE_BURST: {
    type: 'integer',
    minimum: 1,
    default: 500,
    description: 'events it may post at once after a quiet spell (at least MAX_BATCH_EVENTS)',
  },
  MAX_BODY_BYTES: {
    type: 'integer',
    minimum: 1024,
    default: 1_048_576,
    description: 'largest request body (413 beyond)',
  },
  MAX_BATCH_EVENTS: {
    type: 'integer',
    minimum: 1,
    default: 500,
    description: 'most events in one batch (413 beyond)',
  },
  CIVIL_STATUS_RESULTS_URL: {
    type: 'string',
    pattern: '^(https?://.+)?$',
    default: '',
    description:
      "civil-status-sync's base URL, where the full results are (GET /results); empty: none",
  },
  LAND_RESULTS_URL: {
    type: 'string',
    pattern: '^(https?://.+)?$',
    default: '',
    description: "land-sync's base URL, where the full results are; empty: none",
  },
  RESULTS_API_TOKEN: {
    type: 'string',
    pattern: '^(|[!-~]{16,})$',
    default: '',
    description: "the sync services' RESULTS_API_TOKEN",
  },
} as const satisfies Record<string, EnvVar>;

export type IngestGatewayConfig = ReturnType<typeof loadIngestGatewayConfig>;

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadIngestGatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadEnvConfig(SERVICE_NAME, INGEST_GATEWAY_VARS, env);
  if (config.MAX_BATCH_EVENTS > config.RATE_BURST) {
    // A batch larger than the burst could never be taken: 429 for ever.
    throw new ConfigError(SERVICE_NAME, [
      `RATE_BURST: must be at least MAX_BATCH_EVENTS (${config.MAX_BATCH_EVENTS})`,
    ]);
  }
  return config;
}
