// Jest global setup for the int and e2e tiers: make sure a real Kafka and a real PostgreSQL
// answer, then hand their addresses to the test workers through the environment.
// Order: explicit KAFKA_BROKERS + DATABASE_URL; else testcontainers where a Docker engine
// answers; else the local stack of deploy/local (started if needed, idempotent).
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const workspaceRoot = path.resolve(__dirname, '../../../..');

function dockerEngineAnswers() {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    timeout: 5000,
    encoding: 'utf8',
  });
  return r.status === 0 && r.stdout.trim().length > 0;
}

async function startContainers() {
  const { KafkaContainer } = require('@testcontainers/kafka');
  const { PostgreSqlContainer } = require('@testcontainers/postgresql');
  // Confluent Platform 7.9 ships Apache Kafka 3.9.
  const [kafka, pg] = await Promise.all([
    new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start(),
    new PostgreSqlContainer('postgres:17').withDatabase('lienthong_test').start(),
  ]);
  globalThis.__LIENTHONG_CONTAINERS__ = [kafka, pg];
  return {
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    testDatabaseUrl: pg.getConnectionUri(),
  };
}

module.exports = async function globalSetup() {
  if (process.env.KAFKA_BROKERS && process.env.DATABASE_URL) {
    process.env.LIENTHONG_STACK = process.env.LIENTHONG_STACK ?? 'external';
    return;
  }
  let stack;
  if (dockerEngineAnswers()) {
    stack = await startContainers();
    process.env.LIENTHONG_STACK = 'testcontainers';
  } else {
    const out = execFileSync(
      process.execPath,
      [path.join(workspaceRoot, 'deploy/local/stack.ts'), 'json'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    stack = JSON.parse(out.trim().split('\n').pop());
    process.env.LIENTHONG_STACK = 'local';
  }
  process.env.KAFKA_BROKERS = stack.kafkaBrokers;
  // Each principal's password file (the local stack's SASL/SCRAM, docs/security.md).
  if (stack.kafkaSecretsDir) process.env.KAFKA_SECRETS_DIR = stack.kafkaSecretsDir;
  process.env.DATABASE_URL = stack.testDatabaseUrl;
};
