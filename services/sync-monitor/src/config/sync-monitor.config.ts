import { join, resolve } from 'node:path';
import { loadEnvConfig, serviceVars } from '@lienthong/config';
import type { EnvVar } from '@lienthong/config';
import { TOPICS, TOPIC_SPECS } from '@lienthong/contracts';

export const SERVICE_NAME = 'sync-monitor';

const DLQ_TOPICS = TOPIC_SPECS.map((t) => t.name).filter((n) => n.endsWith('.dlq.v1'));
const topicList = '^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$';

/** Every variable sync-monitor reads, declared once: type, default, rule and meaning. */
export const SYNC_MONITOR_VARS = {
  ...serviceVars({ service: SERVICE_NAME, port: 8095, holds: 'the read model' }),
  SYNC_STATUS_V2_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.syncStatusV2,
    description: 'statuses of every entity',
  },
  SYNC_HEALTH_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.syncHealthV2,
    description: "the sync services' health reports",
  },
  SYNC_RECONCILE_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.syncReconcile,
    description: 'reconciliation progress',
  },
  SYNC_EXCHANGES_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.syncExchanges,
    description: "the sync services' portal exchanges (charts, digests on timelines)",
  },
  SYNC_INDICATORS_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.syncIndicators,
    description: "the communes' Decision-766 counts",
  },
  MONITOR_EXCHANGE_RETENTION_HOURS: {
    type: 'integer',
    minimum: 1,
    default: 72,
    description: 'portal exchanges older than this are deleted (hourly)',
  },
  DLQ_TOPICS: {
    type: 'string',
    pattern: topicList,
    default: DLQ_TOPICS.join(','),
    description: 'dead-letter topics to triage, comma-separated',
  },
  OPS_COMMANDS_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.opsCommands,
    description: "where operators' commands go",
  },
  OPS_COMMAND_RESULTS_TOPIC: {
    type: 'string',
    minLength: 1,
    default: TOPICS.opsCommandResults,
    description: "the sync services' answers to the commands",
  },
  MONITOR_ACCOUNTS_FILE: {
    type: 'string',
    minLength: 1,
    default: resolve(
      __dirname,
      '..',
      '..',
      '..',
      '..',
      join('deploy', 'local', 'monitor-accounts.json'),
    ),
    description: 'local accounts (JSON: username, scrypt password hash, role, provinces)',
  },
  MONITOR_SESSION_SECRET: {
    type: 'string',
    pattern: '^(|.{32,})$',
    default: '',
    description:
      'key of the session cookies (HS256); empty: a random key per start (sign in again after a restart)',
  },
  MONITOR_SESSION_TTL_SECONDS: {
    type: 'integer',
    minimum: 60,
    default: 8 * 3600,
    description: 'how long a sign-in lasts',
  },
  MONITOR_OIDC_ISSUER: {
    type: 'string',
    default: '',
    description:
      'an OpenID Connect provider whose bearer tokens the ops API accepts too (its issuer URL; empty: local accounts only)',
  },
  MONITOR_OIDC_AUDIENCE: {
    type: 'string',
    minLength: 1,
    default: 'lienthong-ops',
    description: "the audience the provider's tokens must name",
  },
  MONITOR_OIDC_JWKS_URL: {
    type: 'string',
    default: '',
    description: "the provider's JWKS (its jwks_uri); empty: <issuer>/.well-known/jwks.json",
  },
} as const satisfies Record<string, EnvVar>;

export type SyncMonitorConfig = ReturnType<typeof loadSyncMonitorConfig>;

/** Reads and checks the environment; a bad value stops the boot with every problem named. */
export function loadSyncMonitorConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadEnvConfig(SERVICE_NAME, SYNC_MONITOR_VARS, env);
}
