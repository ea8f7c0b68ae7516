import { ConfigError, loadEnvConfig, serviceVars } from '@lienthong/config';
import type { ConfigOf, EnvVar } from '@lienthong/config';
import { TOPICS } from '@lienthong/contracts';

const int = (minimum: number, def: number, description: string) =>
  ({ type: 'integer', minimum, default: def, description }) as const;

/**
 * Pushes in flight per instance (DISPATCH_CONCURRENCY) and calls in flight per portal (its
 * bulkhead, <PORTAL>_MAX_CONCURRENT), by default. In bench:dossier 32 took 11–20 % more dossiers
 * per second end to end than 16 (test/bench/RESULTS.md): a push spends most of its time waiting
 * on round trips, not on the CPU. Lower both where a portal asks for fewer calls at once.
 */
export const DEFAULT_IN_FLIGHT = 32;

/** What a domain service declares about itself; the kit derives its defaults from it. */
export interface SyncServiceDefaults {
  service: string;
  port: number;
  /** The commune topic it consumes (a TOPICS value). */
  topic: string;
}

/**
 * The variables every sync service reads (the kit's), with their defaults for one service. A
 * domain service adds its portal's (`portalVars`) and its own.
 */
export function syncServiceVars(d: SyncServiceDefaults) {
  return {
    ...serviceVars({ service: d.service, port: d.port, holds: 'the ledger' }),
    EVENTS_TOPIC: {
      type: 'string',
      minLength: 1,
      default: d.topic,
      description: 'the commune topic consumed (tests use a copy)',
    },
    SYNC_STATUS_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.syncStatus,
      description: 'where sync.status.v1 goes',
    },
    SYNC_STATUS_V2_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.syncStatusV2,
      description: 'where sync.status.v2 goes',
    },
    SYNC_HEALTH_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.syncHealthV2,
      description: 'where sync.health.v2 goes',
    },
    SYNC_EXCHANGES_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.syncExchanges,
      description: 'where every portal exchange goes (timing, outcome, digests; telemetry)',
    },
    SYNC_INDICATORS_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.syncIndicators,
      description: "where the communes' Decision-766 counts go (domains that compute them)",
    },
    INDICATORS_EVERY_MS: int(
      0,
      60_000,
      "how often the communes' Decision-766 counts are computed and published (0: never)",
    ),
    SYNC_RECONCILE_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.syncReconcile,
      description: "where reconciliation runs' progress and summaries go",
    },
    KAFKA_PARTITIONS_CONCURRENTLY: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      // 4 → 12 took ingest from 5,600 to 10,000 events/s in bench:dossier (a batch mostly waits
      // on its database round trips); 8 keeps the connection pool (this + DISPATCH_CONCURRENCY +
      // 4) modest next to the other services on one PostgreSQL.
      default: 8,
      description: 'partitions handled at once',
    },
    // With 8 partitions at once, 512 KiB each keeps a backlog's records in flight to about 4 MiB
    // (a response's records are slices of its buffer). Under the heap cap of
    // deploy/service-runtime.json, kafkajs' defaults (1 MiB, 10 MiB) cost about 20 MiB more heap
    // and 30 MiB more RSS in bench:dossier, for no measurable ingest gain.
    KAFKA_FETCH_MAX_BYTES: int(
      65_536,
      4_194_304,
      "bytes one fetch of events may return (kafkajs' maxBytes); with the next, what the consumer holds in memory",
    ),
    KAFKA_FETCH_MAX_BYTES_PER_PARTITION: int(
      65_536,
      524_288,
      "bytes one fetch may return per partition (kafkajs' maxBytesPerPartition): about one batch",
    ),
    // How long the broker may hold a fetch of events to gather a batch (each partition's batch is
    // one transaction). The defaults are kafkajs' own: a fetch is answered with whatever is there.
    // 20 ms and 64 KiB were tried in bench:dossier at 500 events/s offered (seven runs each way,
    // alternated; test/bench/RESULTS.md): the cores 68 % busy against 74 % (medians), p50
    // 66 against 83 ms, but p99 392 against 311 ms, and the p99 is #14's goal. A trade for hosts
    // short of CPU; an idle consumer then asks the broker once per wait instead of once per 5 s.
    KAFKA_FETCH_MIN_BYTES: {
      type: 'integer',
      minimum: 1,
      maximum: 4_194_304,
      default: 1,
      description:
        "bytes a fetch of events waits for, up to KAFKA_FETCH_MAX_WAIT_MS (kafkajs' minBytes): events that arrive together are applied in fewer transactions",
    },
    KAFKA_FETCH_MAX_WAIT_MS: {
      type: 'integer',
      minimum: 0,
      maximum: 5_000,
      default: 5_000,
      description:
        "how long a fetch of events may wait for KAFKA_FETCH_MIN_BYTES (kafkajs' maxWaitTimeInMs); with more than 1 byte asked, what it may add to an event's latency",
    },
    KAFKA_RECORDS_PER_TRANSACTION: {
      type: 'integer',
      minimum: 0,
      maximum: 100_000,
      default: 1_000,
      description:
        'the batches of several partitions fetched together share one ledger transaction, up to about this many events each (0: one transaction per partition)',
    },
    // For both groups (events and ops commands). A SIGKILLed instance holds its partitions, and
    // its replacement's start (each join waits for its rebalance), this long: 28–29 s per restart
    // in the land e2e at 30 s, 10–16 s at 10 s. The default stays kafkajs' 30 s: with 10 s the
    // PostgreSQL-crash e2e of dossier-sync failed once (statuses out of order), not understood yet.
    KAFKA_SESSION_TIMEOUT_MS: {
      type: 'integer',
      minimum: 6_000,
      maximum: 300_000,
      default: 30_000,
      description:
        "how long a silent instance keeps its partitions before the group moves them (the broker's group.min/max.session.timeout.ms bound it)",
    },
    MAX_HANDLE_ATTEMPTS: {
      type: 'integer',
      minimum: 1,
      maximum: 20,
      default: 3,
      description:
        'tries of a failing batch before its records are tried one by one and the poison dead-lettered',
    },
    RETRY_INITIAL_MS: int(10, 1000, 'first retry delay of a failed push'),
    RETRY_MAX_MS: int(10, 60_000, 'longest retry delay of a failed push'),
    DISPATCH_CONCURRENCY: int(1, DEFAULT_IN_FLIGHT, 'pushes in flight per instance'),
    DISPATCH_LEASE_MS: int(
      1000,
      15_000,
      "how long a crashed instance's entities wait before another takes them",
    ),
    DISPATCH_IDLE_MS: int(10, 200, 'poll interval of the dispatcher and relay when idle'),
    OUTBOX_BATCH_SIZE: int(1, 500, 'sync.status rows published per relay round'),
    OUTBOX_LINGER_MS: int(
      0,
      5,
      'after new statuses, how long the relay waits for more to publish in the same round',
    ),
    PROCESSED_EVENT_RETENTION_DAYS: int(1, 30, 'processed event ids kept for dedupe'),
    OUTBOX_RETENTION_HOURS: int(1, 24, 'published outbox rows kept'),
    EXCHANGE_RETENTION_DAYS: int(1, 30, 'portal exchange records kept'),
    METRICS_REFRESH_MS: int(0, 5000, 'the ledger gauges are read at most this often'),
    POLL_INITIAL_MS: int(
      100,
      5000,
      'two-phase targets: first wait for the answer to an accepted submission',
    ),
    POLL_MAX_MS: int(
      1000,
      600_000,
      'two-phase targets: the wait doubles while no answer comes, up to this',
    ),
    POLL_IDLE_MS: int(
      10,
      1000,
      'two-phase targets: how often the result poller looks for due entities when its last round took less than a batch (a longer wait asks about more in each call)',
    ),
    POLL_YIELD_MAX_MS: int(
      0,
      10_000,
      'two-phase targets: while submissions wait for a push slot, a poll round waits up to this after the last one (0: rounds never wait)',
    ),
    HEALTH_REPORT_MS: int(
      1000,
      15_000,
      'sync.health.v2 period (and about a second after a change)',
    ),
    RECONCILE_RATE_PER_SECOND: {
      type: 'number',
      minimum: 0.01,
      maximum: 10_000,
      default: 5,
      description:
        "reconciliation lookups per second when a run does not say: its own share of the portal's quota, never the pushes'",
    },
    RECONCILE_QUOTA_SHARE: {
      type: 'number',
      minimum: 0.01,
      maximum: 1,
      default: 0.2,
      description:
        "share of the portal's quota (<PORTAL>_RATE_LIMIT_PER_SECOND) all reconciliation runs together may use; the rest is the pushes'",
    },
    RECONCILE_PAGE_SIZE: int(1, 50, 'entities a reconciliation run checks per step'),
    RECONCILE_RECENT_EVERY_MS: int(
      0,
      900_000,
      'scheduled tier "recent": every this long, check what changed since the previous period began (0: off)',
    ),
    RECONCILE_OPEN_EVERY_MS: int(
      0,
      86_400_000,
      'scheduled tier "open": every this long, check the entities whose domain state is not final (0: off)',
    ),
    RECONCILE_SWEEP_PERIOD_MS: int(
      0,
      2_592_000_000,
      'scheduled tier "sweep": every entity is checked once per this period, a slice at a time (0: off)',
    ),
    RECONCILE_SWEEP_SLICES: int(1, 30, 'slices of the sweep (one run per period / slices)'),
    RECONCILE_SCHEDULE_MODE: {
      type: 'string',
      enum: ['repair', 'dry-run'],
      default: 'repair',
      description: 'scheduled runs repair what they find, or only report it',
    },
    OPS_COMMANDS_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.opsCommands,
      description: "the operators' commands (reconcile, …); tests use a copy",
    },
    OPS_COMMAND_RESULTS_TOPIC: {
      type: 'string',
      minLength: 1,
      default: TOPICS.opsCommandResults,
      description: 'where this service answers the commands that concern it; tests use a copy',
    },
    RESULTS_API_TOKEN: {
      type: 'string',
      pattern: '^(|[!-~]{16,})$',
      default: '',
      description:
        'bearer token of GET /results (the full results, personal data included, for ingest-gateway only); empty: off',
    },
    OPS_COMMAND_MAX_AGE_MS: int(
      1000,
      3_600_000,
      'a command older than this (requestedAt) is not carried out but answered refused: a new ' +
        'deployment or a long outage must not replay weeks-old pauses and reconciliations',
    ),
    RECONCILE_IDLE_MS: int(100, 5000, 'wait of the reconciliation worker when no run has work'),
    RECONCILE_VERIFY_TIMEOUT_MS: int(
      1000,
      600_000,
      'a run stops waiting for repairs to land after this (what is left is reported)',
    ),
  } as const satisfies Record<string, EnvVar>;
}

const PORTAL_VARS = {
  TIMEOUT_MS: int(100, 5000, 'a call times out this long after it leaves the rate-limit queue'),
  MAX_CONCURRENT: int(1, DEFAULT_IN_FLIGHT, 'calls in flight (bulkhead)'),
  RATE_LIMIT_PER_SECOND: int(0, 0, 'calls per second (0: no limit)'),
  BREAKER_VOLUME_THRESHOLD: int(1, 10, 'calls in the window before the breaker may open'),
  BREAKER_ERROR_PERCENTAGE: {
    type: 'integer',
    minimum: 1,
    maximum: 100,
    default: 50,
    description: 'failure share that opens the breaker',
  },
  BREAKER_RESET_TIMEOUT_MS: int(100, 5000, 'open breaker probes after this'),
  MAX_RETRY_AFTER_MS: int(1000, 60_000, "the portal's Retry-After is honoured up to this"),
  HOLD_MS: int(100, 5000, 'first hold of the target after a credential or endpoint failure'),
  MAX_HOLD_MS: int(100, 60_000, 'a hold doubles while its probes fail, up to this'),
} as const satisfies Record<string, EnvVar>;

type PortalVars<P extends string> = {
  [K in keyof typeof PORTAL_VARS as `${P}_${K}`]: (typeof PORTAL_VARS)[K];
};

/** The gateway settings of one portal, under its prefix (`DVCQG_TIMEOUT_MS`, …). */
export function portalVars<P extends string>(prefix: P): PortalVars<P> {
  return Object.fromEntries(
    Object.entries(PORTAL_VARS).map(([k, v]) => [`${prefix}_${k}`, v]),
  ) as PortalVars<P>;
}

export type SyncServiceConfig = ConfigOf<ReturnType<typeof syncServiceVars>>;
type PortalSettingsConfig = { readonly [K in keyof typeof PORTAL_VARS]: number };

/** Reads one portal's gateway settings back from a loaded configuration. */
export function portalSettings(config: object, prefix: string): PortalSettingsConfig {
  const c = config as Record<string, number>;
  return Object.fromEntries(
    Object.keys(PORTAL_VARS).map((k) => [k, c[`${prefix}_${k}`] as number]),
  ) as PortalSettingsConfig;
}

/**
 * Loads a service's configuration from its declared variables (one declaration: validation and
 * type), plus the rules between variables every sync service has.
 */
export function loadSyncServiceConfig<Vars extends Record<string, EnvVar>>(
  service: string,
  vars: Vars,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<Vars> & SyncServiceConfig {
  const config = loadEnvConfig(service, vars, env) as ConfigOf<Vars> & SyncServiceConfig;
  const problems: string[] = [];
  if (config.RETRY_MAX_MS < config.RETRY_INITIAL_MS)
    problems.push('RETRY_MAX_MS: must be at least RETRY_INITIAL_MS');
  if (problems.length > 0) throw new ConfigError(service, problems);
  return config;
}
