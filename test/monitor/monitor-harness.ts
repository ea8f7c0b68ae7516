import { TOPICS } from '@lienthong/contracts';
import { ReconcileDriver, ServiceProcess, SyncWorld } from '@lienthong/testing';
import type { SyncServiceUnderTest, TestContext } from '@lienthong/testing';

/** dossier-sync as these tests run it (the world's portal-sim as DVCQG). */
export const DOSSIER_SYNC: SyncServiceUnderTest = {
  name: 'dossier-sync',
  entry: 'services/dossier-sync/dist/main.js',
  contractTopic: TOPICS.communeDossierEvents,
  portalEnv: (url) => ({
    DVCQG_BASE_URL: url,
    DVCQG_TIMEOUT_MS: '2000',
    DVCQG_BREAKER_RESET_TIMEOUT_MS: '1000',
  }),
};

/** A JSON answer of the ops API: its status, content type and body. */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  type: string;
  body: T;
}

/**
 * sync-monitor as a real process reading a world's topics (statuses, health, its DLQ, the
 * driver's reconciliation progress) and sending commands to the driver's ops topic, with its read
 * model in its own schema; and a client of its ops API.
 */
export class Monitor {
  readonly process: ServiceProcess;
  /** Its read model's schema: one per world (two monitors of one file never share a table). */
  readonly schema: string;

  constructor(
    private readonly ctx: TestContext,
    world: SyncWorld,
    driver: ReconcileDriver,
  ) {
    this.schema = `${ctx.schema}_${world.label}_monitor`;
    this.process = new ServiceProcess({
      entry: 'services/sync-monitor/dist/main.js',
      env: {
        DATABASE_URL: ctx.stack.databaseUrl,
        KAFKA_BROKERS: ctx.stack.kafkaBrokers.join(','),
        DB_SCHEMA: this.schema,
        KAFKA_GROUP_ID: `${world.topic}.sync-monitor`,
        SYNC_STATUS_V2_TOPIC: world.statusV2Topic,
        SYNC_HEALTH_TOPIC: world.healthTopic,
        SYNC_RECONCILE_TOPIC: driver.progressTopic,
        DLQ_TOPICS: `${world.topic}.dlq.v1`,
        OPS_COMMANDS_TOPIC: driver.opsTopic,
        OPS_COMMAND_RESULTS_TOPIC: driver.resultsTopic,
        SYNC_EXCHANGES_TOPIC: world.ops.exchanges,
        SYNC_INDICATORS_TOPIC: world.ops.indicators,
        MONITOR_SESSION_SECRET: 'a-test-secret-of-at-least-thirty-two-characters',
        LOG_LEVEL: 'info',
      },
      readyTimeoutMs: 60_000,
    });
    ctx.onCleanup(() => this.process.stop());
    world.watchLogs('sync-monitor', this.process);
  }

  /** Signs in with a demo account (password: user name + "-demo"); the bearer token. */
  async token(username: string): Promise<string> {
    const answer = await this.call<{ token: string }>('POST', '/api/session', undefined, {
      username,
      password: `${username}-demo`,
    });
    expect(answer.status).toBe(200);
    return answer.body.token;
  }

  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<Answer<T>> {
    const res = await fetch(await this.process.url(path), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (text ? JSON.parse(text) : {}) as T,
    };
  }

  async get<T = Record<string, unknown>>(path: string, token: string): Promise<T> {
    const answer = await this.call<T>('GET', path, token);
    if (answer.status !== 200)
      throw new Error(`GET ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
}

/**
 * A monitored world: portal-sim and dossier-sync (scheduled reconciliation off: runs come from
 * operators here), an ops-command and progress topic pair, and sync-monitor reading all of it.
 */
export async function monitoredWorld(
  ctx: TestContext,
  label: string,
): Promise<{ world: SyncWorld; driver: ReconcileDriver; monitor: Monitor }> {
  const world = await SyncWorld.open(ctx, DOSSIER_SYNC, label);
  const driver = await ReconcileDriver.open(ctx, world);
  const sync = await world.instance(`dossier-sync-${label}`, {
    ...driver.env,
    RECONCILE_RECENT_EVERY_MS: '0',
    RECONCILE_OPEN_EVERY_MS: '0',
    RECONCILE_SWEEP_PERIOD_MS: '0',
    INDICATORS_EVERY_MS: '1000',
  });
  await sync.start();
  const monitor = new Monitor(ctx, world, driver);
  await monitor.process.start();
  return { world, driver, monitor };
}
