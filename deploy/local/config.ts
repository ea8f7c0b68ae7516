// Where the local stack lives and which ports it takes. One place, read by every stack script.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const KAFKA_VERSION = '3.9.2';
export const KAFKA_HOST = '127.0.0.1';
export const KAFKA_PORT = 9092;
export const KAFKA_CONTROLLER_PORT = 9093;
export const KAFKA_HEAP = '-Xmx512m';

/** Databases the project uses on whichever PostgreSQL server the stack resolves. */
export const DATABASES = ['lienthong', 'lienthong_test'] as const;
export const SYSTEM_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const EMBEDDED_PG_PORT = Number(process.env.LIENTHONG_EMBEDDED_PG_PORT ?? 5433);

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Kept outside the repository so a fresh clone reuses jars and data; override with LIENTHONG_HOME. */
export const cacheDir =
  process.env.LIENTHONG_HOME ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lienthong');

/**
 * PostgreSQL refuses to run as root, so as root the embedded server runs as the `postgres` user,
 * which cannot enter root's home (mode 0700): its data then lives under /var/lib instead.
 */
const pgHome =
  process.env.LIENTHONG_PG_HOME ??
  (process.getuid?.() === 0 ? '/var/lib/lienthong/postgres' : join(cacheDir, 'postgres'));

export const paths = {
  kafkaLibs: join(cacheDir, `kafka-${KAFKA_VERSION}`, 'libs'),
  kafkaHome: join(cacheDir, 'kafka'),
  kafkaData: join(cacheDir, 'kafka', 'data'),
  kafkaLogs: join(cacheDir, 'kafka', 'logs'),
  kafkaProperties: join(cacheDir, 'kafka', 'server.properties'),
  kafkaLog4j: join(cacheDir, 'kafka', 'log4j.properties'),
  kafkaClusterId: join(cacheDir, 'kafka', 'cluster.id'),
  kafkaPid: join(cacheDir, 'kafka', 'broker.pid'),
  kafkaStdout: join(cacheDir, 'kafka', 'logs', 'stdout.log'),
  pgData: join(pgHome, 'data'),
  pgLog: join(pgHome, 'postgres.log'),
  stackState: join(cacheDir, 'stack.json'),
  pom: join(repoRoot, 'deploy', 'local', 'kafka', 'pom.xml'),
  log4jTemplate: join(repoRoot, 'deploy', 'local', 'kafka', 'log4j.properties'),
  topics: join(repoRoot, 'contracts', 'topics.json'),
};

export const kafkaBrokers = `${KAFKA_HOST}:${KAFKA_PORT}`;
