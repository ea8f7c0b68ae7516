import type { JSONSchemaType } from 'ajv';
import { ConfigError, loadConfig } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';
import { FIXTURE_COMMUNES } from '@lienthong/simulation';

export interface CommuneSimConfig {
  PORT: number;
  HOST: string;
  LOG_LEVEL: 'debug' | 'info' | 'warn' | 'error';
  /** Comma-separated host:port list. */
  KAFKA_BROKERS: string;
  /** Where each domain's events go (renamed copies in tests). */
  DOSSIER_TOPIC: string;
  CIVIL_STATUS_TOPIC: string;
  LAND_TOPIC: string;
  /** New dossiers, civil-status registrations and land dossiers per minute over all communes; changeable at run time (PUT /traffic). */
  DOSSIERS_PER_MINUTE: number;
  CIVIL_STATUS_PER_MINUTE: number;
  LAND_PER_MINUTE: number;
  /** Simulated seconds per real second: 3600 plays an hour of the communes' day each second. */
  TIME_SCALE: number;
  /** Share of dossiers with one mistaken header revision (due date before receipt; the DLQ gets it). */
  MISTAKE_RATIO: number;
  /** Comma-separated 5-digit commune codes to simulate; empty = every commune of the sample directory. */
  COMMUNES: string;
  /** Seed of the traffic generator: the same seed plays the same dossiers; 0 draws one from the clock (logged). */
  SEED: number;
  /**
   * ingest-gateway's URL: publish through it, as each commune's own system (an OAuth2 client per
   * commune). Empty: write to Kafka directly, as a trusted writer (docs/security.md).
   */
  INGEST_GATEWAY_URL: string;
  /** The identity provider's token endpoint, for INGEST_GATEWAY_URL. */
  IDP_TOKEN_URL: string;
  /** The file holding `client_id secret` lines of the communes' clients; empty: the demo secrets (`<client_id>-demo`) portal-sim's identity provider takes. */
  IDP_CLIENT_SECRETS_FILE: string;
  /** The bearer token of PUT /traffic (changing the rates); empty: the rates cannot be changed. */
  COMMUNE_SIM_ADMIN_TOKEN: string;
}

const schema: JSONSchemaType<CommuneSimConfig> = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 8092 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    LOG_LEVEL: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
    KAFKA_BROKERS: {
      type: 'string',
      pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$',
      default: '127.0.0.1:9092',
    },
    DOSSIER_TOPIC: { type: 'string', minLength: 1, default: TOPICS.communeDossierEvents },
    CIVIL_STATUS_TOPIC: { type: 'string', minLength: 1, default: TOPICS.communeCivilStatusEvents },
    LAND_TOPIC: { type: 'string', minLength: 1, default: TOPICS.communeLandEvents },
    DOSSIERS_PER_MINUTE: { type: 'number', minimum: 0, maximum: 60_000, default: 30 },
    CIVIL_STATUS_PER_MINUTE: { type: 'number', minimum: 0, maximum: 60_000, default: 10 },
    LAND_PER_MINUTE: { type: 'number', minimum: 0, maximum: 60_000, default: 5 },
    TIME_SCALE: { type: 'number', minimum: 1, maximum: 1_000_000, default: 3600 },
    MISTAKE_RATIO: { type: 'number', minimum: 0, maximum: 1, default: 0.02 },
    COMMUNES: { type: 'string', pattern: '^([0-9]{5}(,[0-9]{5})*)?$', default: '' },
    SEED: { type: 'integer', minimum: 0, default: 0 },
    INGEST_GATEWAY_URL: { type: 'string', pattern: '^(https?://.+)?$', default: '' },
    IDP_TOKEN_URL: { type: 'string', pattern: '^(https?://.+)?$', default: '' },
    IDP_CLIENT_SECRETS_FILE: { type: 'string', default: '' },
    COMMUNE_SIM_ADMIN_TOKEN: { type: 'string', pattern: '^(|[!-~]{16,})$', default: '' },
  },
  required: [
    'PORT',
    'HOST',
    'LOG_LEVEL',
    'KAFKA_BROKERS',
    'DOSSIER_TOPIC',
    'CIVIL_STATUS_TOPIC',
    'LAND_TOPIC',
    'DOSSIERS_PER_MINUTE',
    'CIVIL_STATUS_PER_MINUTE',
    'LAND_PER_MINUTE',
    'TIME_SCALE',
    'MISTAKE_RATIO',
    'COMMUNES',
    'SEED',
    'INGEST_GATEWAY_URL',
    'IDP_TOKEN_URL',
    'IDP_CLIENT_SECRETS_FILE',
    'COMMUNE_SIM_ADMIN_TOKEN',
  ],
  additionalProperties: false,
};

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadCommuneSimConfig(env: NodeJS.ProcessEnv = process.env): CommuneSimConfig {
  const config = loadConfig('commune-sim', schema, env);
  const known = new Set(FIXTURE_COMMUNES.map((c) => c.code));
  const unknown = config.COMMUNES.split(',').filter((code) => code !== '' && !known.has(code));
  if (unknown.length > 0)
    throw new ConfigError('commune-sim', [
      `COMMUNES: ${unknown.join(', ')} not in the commune directory (libs/admin-units/data/sample.json)`,
    ]);
  if (config.INGEST_GATEWAY_URL && !config.IDP_TOKEN_URL)
    throw new ConfigError('commune-sim', ['IDP_TOKEN_URL: is required with INGEST_GATEWAY_URL']);
  return config;
}
