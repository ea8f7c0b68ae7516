/** Addresses the jest global setup resolved (see jest/global-setup.cjs). */
export interface TestStack {
  kafkaBrokers: string[];
  databaseUrl: string;
  /** How the stack was provided: `local` (deploy/local), `testcontainers` or `external`. */
  kind: string;
}

/**
 * Refuses any database whose name lacks `test`: tests create and drop schemas, and a
 * mistyped DATABASE_URL must never point them at a real ledger.
 */
export function assertTestDatabase(url: string): void {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name.includes('test')) {
    throw new Error(
      `refusing to run tests against database "${name}": its name must contain "test" (DATABASE_URL)`,
    );
  }
}

export function testStack(): TestStack {
  const brokers = process.env.KAFKA_BROKERS;
  const databaseUrl = process.env.DATABASE_URL;
  if (!brokers || !databaseUrl) {
    throw new Error(
      'KAFKA_BROKERS and DATABASE_URL are not set: run integration tests through their Nx target (test-int/e2e), whose jest global setup provides the stack',
    );
  }
  assertTestDatabase(databaseUrl);
  return {
    kafkaBrokers: brokers.split(',').map((b) => b.trim()),
    databaseUrl,
    kind: process.env.LIENTHONG_STACK ?? 'external',
  };
}
