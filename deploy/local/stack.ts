// The local stack: `node deploy/local/stack.ts up|down|status|logs|reset|env`, through the npm
// scripts stack:*. Idempotent: `up` twice is harmless, `up` after a crash recovers.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { KAFKA_VERSION, cacheDir, kafkaBrokers, paths } from './config.ts';
import {
  brokerPid,
  brokerReady,
  kafkaLogFile,
  killKafka,
  log,
  startKafka,
  stopKafka,
  wipeKafkaData,
} from './kafka.ts';
import {
  answers,
  dropDatabases,
  ensureDatabases,
  resolvePostgres,
  restartPostgres,
  stopEmbedded,
  withDatabase,
} from './postgres.ts';
import type { PgSource } from './postgres.ts';
import { ensureTopics } from './topics.ts';
import { secretsDir } from './kafka-security.ts';

/** What `up` resolved, for the test harness and the services (read by `env` and libs/testing). */
export interface StackState {
  kafkaBrokers: string;
  kafkaVersion: string;
  /** Where each Kafka principal's password file is (`<principal>.password`, docs/security.md). */
  kafkaSecretsDir: string;
  databaseUrl: string;
  testDatabaseUrl: string;
  postgresSource: PgSource;
}

function readState(): StackState | undefined {
  return existsSync(paths.stackState)
    ? (JSON.parse(readFileSync(paths.stackState, 'utf8')) as StackState)
    : undefined;
}

async function up(): Promise<StackState> {
  mkdirSync(cacheDir, { recursive: true });
  const started = Date.now();
  const pg = await resolvePostgres();
  await ensureDatabases(pg.adminUrl);
  log(`postgres (${pg.source}) ready: ${redact(pg.adminUrl)}`);
  await startKafka();
  const topics = await ensureTopics();
  if (topics.created.length > 0) log(`created topics: ${topics.created.join(', ')}`);
  if (topics.grown.length > 0) log(`added partitions to: ${topics.grown.join(', ')}`);
  const state: StackState = {
    kafkaBrokers,
    kafkaVersion: KAFKA_VERSION,
    kafkaSecretsDir: secretsDir,
    databaseUrl: withDatabase(pg.adminUrl, 'lienthong'),
    testDatabaseUrl: withDatabase(pg.adminUrl, 'lienthong_test'),
    postgresSource: pg.source,
  };
  writeFileSync(paths.stackState, `${JSON.stringify(state, null, 2)}\n`);
  log(
    `stack up in ${((Date.now() - started) / 1000).toFixed(1)}s: kafka ${KAFKA_VERSION} on ${kafkaBrokers}, postgres ${redact(state.databaseUrl)}`,
  );
  return state;
}

async function down(): Promise<void> {
  await stopKafka();
  await stopEmbedded();
  log('stack down');
}

async function status(): Promise<boolean> {
  const state = readState();
  const pid = brokerPid();
  const kafkaUp = await brokerReady();
  const pgUrl = state?.databaseUrl;
  const pgUp = pgUrl ? await answers(pgUrl) : false;
  const line = (name: string, ok: boolean, detail: string) =>
    process.stdout.write(`${name.padEnd(9)} ${ok ? 'up  ' : 'down'}  ${detail}\n`);
  line(
    'kafka',
    kafkaUp,
    `${kafkaBrokers} (Apache Kafka ${KAFKA_VERSION}${pid ? `, pid ${pid}` : ''})`,
  );
  line(
    'postgres',
    pgUp,
    pgUrl
      ? `${redact(pgUrl)} (${state?.postgresSource})`
      : 'not resolved yet: run npm run stack:up',
  );
  return kafkaUp && pgUp;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function main(): Promise<void> {
  const command = process.argv[2];
  switch (command) {
    case 'up':
      await up();
      return;
    case 'down':
      await down();
      return;
    case 'status':
      process.exitCode = (await status()) ? 0 : 1;
      return;
    case 'logs': {
      const follow = process.argv.includes('-f');
      spawnSync('tail', [follow ? '-F' : '-n200', kafkaLogFile, paths.pgLog].filter(Boolean), {
        stdio: 'inherit',
      });
      return;
    }
    case 'reset': {
      await down();
      wipeKafkaData();
      const state = await up();
      const pg = await resolvePostgres();
      await dropDatabases(pg.adminUrl);
      await ensureDatabases(pg.adminUrl);
      log(
        `reset: kafka data wiped, databases ${redact(state.databaseUrl)} and lienthong_test recreated`,
      );
      return;
    }
    case 'env': {
      const state = readState() ?? (await up());
      process.stdout.write(
        `export KAFKA_BROKERS=${state.kafkaBrokers}\nexport DATABASE_URL=${state.databaseUrl}\n`,
      );
      return;
    }
    case 'kafka': {
      // For chaos tests and operators: act on the broker alone.
      const action = process.argv[3];
      if (action === 'kill') {
        await killKafka();
      } else if (action === 'stop') {
        await stopKafka();
      } else if (action === 'start') {
        await startKafka();
        await ensureTopics();
      } else {
        throw new Error('usage: stack.ts kafka kill|stop|start');
      }
      return;
    }
    case 'postgres': {
      // For chaos tests and operators: restart the server (`crash`: immediate, no checkpoint).
      const action = process.argv[3];
      if (action !== 'restart' && action !== 'crash')
        throw new Error('usage: stack.ts postgres restart|crash');
      const state = readState();
      if (!state) throw new Error('the stack is not up (npm run stack:up)');
      if (state.postgresSource === 'DATABASE_URL')
        throw new Error('DATABASE_URL names a server this stack does not run: restart it yourself');
      await restartPostgres(state.databaseUrl, action === 'crash' ? 'immediate' : 'fast');
      return;
    }
    case 'json': {
      process.stdout.write(`${JSON.stringify(await up())}\n`);
      return;
    }
    default:
      process.stderr.write(
        'usage: node deploy/local/stack.ts up|down|status|logs [-f]|reset|env|json|kafka kill|stop|start|postgres restart|crash\n',
      );
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[stack] error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
