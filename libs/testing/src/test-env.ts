import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Addresses the jest global setup resolved (see jest/global-setup.cjs). */
export interface TestStack {
  kafkaBrokers: string[];
  databaseUrl: string;
  /**
   * Where the local stack keeps each Kafka principal's password (`<principal>.password`);
   * undefined for a broker without authentication (testcontainers, or an external one).
   */
  kafkaSecretsDir?: string;
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
    kafkaSecretsDir: process.env.KAFKA_SECRETS_DIR || undefined,
    kind: process.env.LIENTHONG_STACK ?? 'external',
  };
}

/** The Kafka principal of a service's built entry: `services/<name>/…` runs as `<name>`. */
export function principalOfEntry(entry: string): string | undefined {
  return /^services\/([^/]+)\//.exec(entry)?.[1];
}

/**
 * The environment that makes a process authenticate to Kafka as `principal` (its password file
 * under the stack's secrets directory); empty when the broker takes no authentication.
 */
export function kafkaPrincipalEnv(principal: string): Record<string, string> {
  const dir = process.env.KAFKA_SECRETS_DIR;
  const file = dir && join(dir, `${principal}.password`);
  return file && existsSync(file)
    ? { KAFKA_SASL_USERNAME: principal, KAFKA_SASL_PASSWORD_FILE: file }
    : {};
}

/** The SASL options of `principal` for a kafkajs client in the test process itself. */
export function kafkaPrincipalSasl(
  principal: string,
): { mechanism: 'scram-sha-512'; username: string; password: string } | undefined {
  const env = kafkaPrincipalEnv(principal);
  return env.KAFKA_SASL_PASSWORD_FILE
    ? {
        mechanism: 'scram-sha-512',
        username: principal,
        password: readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim(),
      }
    : undefined;
}
