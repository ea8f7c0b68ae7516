import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { openDataSource } from '@lienthong/persistence';
import {
  PortalExchange1763800000100,
  PortalGateway,
  PostgresExchangeRecorder,
  ResilienceMetrics,
} from '@lienthong/resilience';
import type { GatewayOptions } from '@lienthong/resilience';
import type { TestContext } from '@lienthong/testing';

export { portalAdmin as admin, startPortalSim } from '@lienthong/testing';

export interface GatewayHarness {
  gateway: PortalGateway;
  recorder: PostgresExchangeRecorder;
  registry: Registry;
  pool: Pool;
  /** Failed exchange-record writes: a test expects none. */
  recorderErrors: unknown[];
  close(): Promise<void>;
}

/** A gateway whose exchange records land in this file's schema (portal_exchange). */
export async function gatewayFor(
  ctx: TestContext,
  target: string,
  overrides: Partial<GatewayOptions> = {},
): Promise<GatewayHarness> {
  const persistence = {
    url: ctx.stack.databaseUrl,
    schema: ctx.schema,
    migrations: [PortalExchange1763800000100],
    applicationName: 'portal-tests',
  };
  const ds = await openDataSource(persistence);
  await ds.destroy();
  const pool = new Pool({ connectionString: ctx.stack.databaseUrl, max: 2 });
  const recorderErrors: unknown[] = [];
  const recorder = new PostgresExchangeRecorder(
    pool,
    `"${ctx.schema}".portal_exchange`,
    (err) => recorderErrors.push(err),
    50,
  );
  const registry = new Registry();
  const gateway: PortalGateway = new PortalGateway(
    {
      target,
      breaker: {
        timeoutMs: 3000,
        volumeThreshold: 5,
        errorThresholdPercentage: 50,
        resetTimeoutMs: 1500,
        rollingCountTimeoutMs: 10_000,
      },
      retry: {
        initialIntervalMs: 50,
        backoffCoefficient: 2,
        maximumIntervalMs: 500,
        maximumAttempts: 5,
      },
      maxConcurrent: 8,
      ...overrides,
    },
    recorder,
    new ResilienceMetrics(registry),
  );
  const harness: GatewayHarness = {
    gateway,
    recorder,
    registry,
    pool,
    recorderErrors,
    async close() {
      await gateway.shutdown();
      await recorder.close();
      await pool.end();
    },
  };
  ctx.onCleanup(() => harness.close());
  return harness;
}
