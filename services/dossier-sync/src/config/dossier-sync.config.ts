import { hostname } from 'node:os';
import type { JSONSchemaType } from 'ajv';
import { ConfigError, loadConfig } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';

export interface DossierSyncConfig {
  PORT: number;
  HOST: string;
  LOG_LEVEL: 'debug' | 'info' | 'warn' | 'error';
  DATABASE_URL: string;
  /** The schema this service owns (ledger, offsets, outbox, exchange records). */
  DOSSIER_SYNC_SCHEMA: string;
  /** This instance's name in leases; two instances must differ (default: host and pid). */
  INSTANCE_ID: string;
  /** Comma-separated host:port list. */
  KAFKA_BROKERS: string;
  KAFKA_GROUP_ID: string;
  /** The dossier topic (a renamed copy in tests); its DLQ is `<topic>.dlq.v1`. */
  DOSSIER_TOPIC: string;
  SYNC_STATUS_TOPIC: string;
  /** Partitions of the dossier topic processed at once in this instance. */
  KAFKA_PARTITIONS_CONCURRENTLY: number;
  DVCQG_BASE_URL: string;
  DVCQG_USERNAME: string;
  DVCQG_PASSWORD: string;
  /** madonvi: the unit code the province's DVCQG account syncs for. */
  DVCQG_UNIT_CODE: string;
  /** One portal call slower than this fails and is aborted. */
  DVCQG_TIMEOUT_MS: number;
  /** Calls in flight to DVCQG from this instance (bulkhead). */
  DVCQG_MAX_CONCURRENT: number;
  /** Calls per second to DVCQG from this instance; 0 = no limit. */
  DVCQG_RATE_LIMIT_PER_SECOND: number;
  BREAKER_VOLUME_THRESHOLD: number;
  BREAKER_ERROR_PERCENTAGE: number;
  BREAKER_RESET_TIMEOUT_MS: number;
  RETRY_INITIAL_MS: number;
  RETRY_MAX_MS: number;
  /** Pushes in flight at once (each is a few sequential portal calls); rows are claimed only for free slots. */
  DISPATCH_CONCURRENCY: number;
  /** A claim's lifetime; renewed every third of it while the push runs. A crashed instance's dossiers wait this long. */
  DISPATCH_LEASE_MS: number;
  /** Wait between rounds when there is nothing to do. */
  DISPATCH_IDLE_MS: number;
  OUTBOX_BATCH_SIZE: number;
  /** Processed event ids are kept this long for deduplication; older replays rely on sequences. */
  PROCESSED_EVENT_RETENTION_DAYS: number;
  /** Published sync.status outbox rows are kept this long (for diagnosis), then deleted. */
  OUTBOX_RETENTION_HOURS: number;
  /** Portal exchange records are kept this long, then deleted. */
  EXCHANGE_RETENTION_DAYS: number;
  /** A portal's Retry-After is honoured up to this; a longer one is capped. */
  DVCQG_MAX_RETRY_AFTER_MS: number;
  /** First hold of DVCQG after a credential or endpoint failure; doubles (to 60 s) while probes fail. */
  DVCQG_HOLD_MS: number;
  /** A hold doubles while its probes fail, up to this. */
  DVCQG_MAX_HOLD_MS: number;
  /** Tries of a failing batch before its records are tried one by one and the poison dead-lettered. */
  MAX_HANDLE_ATTEMPTS: number;
  /** The ledger gauges on /metrics are read at most this often, whatever the scrape rate. */
  METRICS_REFRESH_MS: number;
  /** sync.health.v2 is published this often (and about a second after a breaker or hold change). */
  HEALTH_REPORT_MS: number;
  /** Topic the health reports go to (tests use a per-world copy). */
  SYNC_HEALTH_TOPIC: string;
}

const int = (min: number, def: number) =>
  ({ type: 'integer', minimum: min, default: def }) as const;

const schema: JSONSchemaType<DossierSyncConfig> = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8091 },
    HOST: { type: 'string', default: '127.0.0.1' },
    LOG_LEVEL: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    DOSSIER_SYNC_SCHEMA: {
      type: 'string',
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
      default: 'dossier_sync',
    },
    INSTANCE_ID: { type: 'string', minLength: 1, default: `${hostname()}-${process.pid}` },
    KAFKA_BROKERS: {
      type: 'string',
      pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$',
      default: '127.0.0.1:9092',
    },
    KAFKA_GROUP_ID: { type: 'string', minLength: 1, default: 'lienthong-dossier-sync' },
    DOSSIER_TOPIC: { type: 'string', minLength: 1, default: TOPICS.communeDossierEvents },
    SYNC_STATUS_TOPIC: { type: 'string', minLength: 1, default: TOPICS.syncStatus },
    KAFKA_PARTITIONS_CONCURRENTLY: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
    DVCQG_BASE_URL: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:8090' },
    DVCQG_USERNAME: { type: 'string', minLength: 1, default: 'lienthong' },
    DVCQG_PASSWORD: { type: 'string', minLength: 1, default: 'lienthong-dvcqg' },
    DVCQG_UNIT_CODE: { type: 'string', minLength: 1, default: 'H56' },
    DVCQG_TIMEOUT_MS: int(100, 5000),
    DVCQG_MAX_CONCURRENT: int(1, 16),
    DVCQG_RATE_LIMIT_PER_SECOND: int(0, 0),
    BREAKER_VOLUME_THRESHOLD: int(1, 10),
    BREAKER_ERROR_PERCENTAGE: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
    BREAKER_RESET_TIMEOUT_MS: int(100, 5000),
    RETRY_INITIAL_MS: int(10, 1000),
    RETRY_MAX_MS: int(10, 60_000),
    DISPATCH_CONCURRENCY: int(1, 16),
    DISPATCH_LEASE_MS: int(1000, 15_000),
    DISPATCH_IDLE_MS: int(10, 200),
    OUTBOX_BATCH_SIZE: int(1, 500),
    PROCESSED_EVENT_RETENTION_DAYS: int(1, 30),
    OUTBOX_RETENTION_HOURS: int(1, 24),
    EXCHANGE_RETENTION_DAYS: int(1, 30),
    DVCQG_MAX_RETRY_AFTER_MS: int(1000, 60_000),
    DVCQG_HOLD_MS: int(100, 5000),
    DVCQG_MAX_HOLD_MS: int(100, 60_000),
    MAX_HANDLE_ATTEMPTS: { type: 'integer', minimum: 1, maximum: 20, default: 3 },
    METRICS_REFRESH_MS: int(0, 5000),
    HEALTH_REPORT_MS: int(1000, 15000),
    SYNC_HEALTH_TOPIC: { type: 'string', minLength: 1, default: TOPICS.syncHealthV2 },
  },
  required: [
    'PORT',
    'HOST',
    'LOG_LEVEL',
    'DATABASE_URL',
    'DOSSIER_SYNC_SCHEMA',
    'INSTANCE_ID',
    'KAFKA_BROKERS',
    'KAFKA_GROUP_ID',
    'DOSSIER_TOPIC',
    'SYNC_STATUS_TOPIC',
    'KAFKA_PARTITIONS_CONCURRENTLY',
    'DVCQG_BASE_URL',
    'DVCQG_USERNAME',
    'DVCQG_PASSWORD',
    'DVCQG_UNIT_CODE',
    'DVCQG_TIMEOUT_MS',
    'DVCQG_MAX_CONCURRENT',
    'DVCQG_RATE_LIMIT_PER_SECOND',
    'BREAKER_VOLUME_THRESHOLD',
    'BREAKER_ERROR_PERCENTAGE',
    'BREAKER_RESET_TIMEOUT_MS',
    'RETRY_INITIAL_MS',
    'RETRY_MAX_MS',
    'DISPATCH_CONCURRENCY',
    'DISPATCH_LEASE_MS',
    'DISPATCH_IDLE_MS',
    'OUTBOX_BATCH_SIZE',
    'PROCESSED_EVENT_RETENTION_DAYS',
    'OUTBOX_RETENTION_HOURS',
    'EXCHANGE_RETENTION_DAYS',
    'DVCQG_MAX_RETRY_AFTER_MS',
    'DVCQG_HOLD_MS',
    'DVCQG_MAX_HOLD_MS',
    'MAX_HANDLE_ATTEMPTS',
    'METRICS_REFRESH_MS',
    'HEALTH_REPORT_MS',
    'SYNC_HEALTH_TOPIC',
  ],
  additionalProperties: false,
};

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadDossierSyncConfig(env: NodeJS.ProcessEnv = process.env): DossierSyncConfig {
  const config = loadConfig('dossier-sync', schema, env);
  const problems: string[] = [];
  if (config.RETRY_MAX_MS < config.RETRY_INITIAL_MS)
    problems.push('RETRY_MAX_MS: must be at least RETRY_INITIAL_MS');
  if (problems.length > 0) throw new ConfigError('dossier-sync', problems);
  return config;
}
