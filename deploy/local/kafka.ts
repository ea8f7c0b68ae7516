// The local Kafka broker: Apache Kafka jars from Maven Central, single-node KRaft (combined
// broker + controller), started with `java -cp '<libs>/*' kafka.Kafka server.properties`.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  KAFKA_CONTROLLER_PORT,
  KAFKA_HEAP,
  KAFKA_HOST,
  KAFKA_PORT,
  KAFKA_VERSION,
  kafkaBrokers,
  paths,
} from './config.ts';
import {
  findProcesses,
  isAlive,
  livePid,
  portHolder,
  portOpen,
  run,
  stopPid,
  tail,
  waitFor,
} from './process.ts';
import {
  ADMIN,
  adminSasl,
  ensureAcls,
  ensureSecrets,
  stackKafka,
  scramFormatArgs,
  securityProperties,
} from './kafka-security.ts';

/** Marks processes we started: the properties file path is unique to this cache directory. */
const MARKER = paths.kafkaProperties;

export function log(msg: string): void {
  process.stderr.write(`[stack] ${msg}\n`);
}

/** Fetches the broker's runtime jars once; a marker file makes an interrupted fetch retry. */
export function ensureJars(): void {
  const done = join(paths.kafkaLibs, '.complete');
  if (existsSync(done)) return;
  log(
    `fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central with Maven (first run only)…`,
  );
  rmSync(paths.kafkaLibs, { recursive: true, force: true });
  mkdirSync(paths.kafkaLibs, { recursive: true });
  try {
    run('mvn', [
      '-q',
      '-B',
      '-f',
      paths.pom,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${paths.kafkaLibs}`,
    ]);
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        'Maven (mvn) is not on PATH: install a JDK 17+ and Maven, or use deploy/compose.yaml with a Docker engine.',
      );
    throw new Error(`Maven could not fetch the Kafka jars:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  const jars = readdirSync(paths.kafkaLibs).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) {
    throw new Error(
      `Maven finished but kafka_2.13-${KAFKA_VERSION}.jar is missing in ${paths.kafkaLibs}`,
    );
  }
  writeFileSync(done, `${jars.length} jars\n`);
}

function java(args: string[]): string {
  return run('java', ['-cp', `${paths.kafkaLibs}/*`, ...args]);
}

function writeConfig(): void {
  mkdirSync(paths.kafkaData, { recursive: true });
  mkdirSync(paths.kafkaLogs, { recursive: true });
  const properties = [
    '# Written by deploy/local/kafka.ts on every start; edit that file, not this one.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}`,
    'controller.listener.names=CONTROLLER',
    ...securityProperties(KAFKA_HOST, KAFKA_PORT, KAFKA_CONTROLLER_PORT),
    `log.dirs=${paths.kafkaData}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    'log.retention.hours=168',
    'num.recovery.threads.per.data.dir=2',
    '',
  ].join('\n');
  // It holds the admin password (the broker's own JAAS login): readable by this user only.
  writeFileSync(paths.kafkaProperties, properties, { mode: 0o600 });
  writeFileSync(
    adminClientProperties,
    [
      'security.protocol=SASL_PLAINTEXT',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${ADMIN}" password="${adminSasl().password}";`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(paths.kafkaLog4j, readFileSync(paths.log4jTemplate, 'utf8'));
}

const adminClientProperties = join(paths.kafkaHome, 'admin-client.properties');
/** The principals whose SCRAM credentials the cluster holds, one per line (written by this file). */
const usersMarker = join(paths.kafkaData, 'lienthong-scram-users');

/**
 * Formats the storage once, with every principal's SCRAM credentials; an already formatted
 * directory (restart, crash) is left as it is. Data formatted before the broker required SASL
 * holds no credentials at all: the local broker's data is then wiped (logged), as `stack:reset`.
 */
function formatStorage(): void {
  if (existsSync(join(paths.kafkaData, 'meta.properties'))) {
    if (existsSync(usersMarker)) return;
    log('the local Kafka data predates SASL (no credentials in it): wiping it');
    wipeKafkaData();
    mkdirSync(paths.kafkaData, { recursive: true });
  }
  if (!existsSync(paths.kafkaClusterId)) {
    const id = java(['kafka.tools.StorageTool', 'random-uuid']).trim();
    writeFileSync(paths.kafkaClusterId, `${id}\n`);
  }
  const clusterId = readFileSync(paths.kafkaClusterId, 'utf8').trim();
  log(`formatting KRaft storage (cluster ${clusterId})`);
  java([
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    paths.kafkaProperties,
    '--ignore-formatted',
    ...scramFormatArgs(),
  ]);
  writeFileSync(usersMarker, `${Object.keys(ensureSecrets()).join('\n')}\n`);
}

/**
 * Principals added to PRINCIPALS after the cluster was formatted get their SCRAM credentials
 * through the admin API (kafka-configs), then every principal gets its ACLs.
 */
async function ensurePrincipals(): Promise<void> {
  const known = new Set(readFileSync(usersMarker, 'utf8').split('\n').filter(Boolean));
  const secrets = ensureSecrets();
  for (const [name, password] of Object.entries(secrets)) {
    if (known.has(name)) continue;
    log(`adding Kafka principal ${name}`);
    java([
      'kafka.admin.ConfigCommand',
      '--bootstrap-server',
      kafkaBrokers,
      '--command-config',
      adminClientProperties,
      '--alter',
      '--add-config',
      `SCRAM-SHA-512=[password=${password}]`,
      '--entity-type',
      'users',
      '--entity-name',
      name,
    ]);
    known.add(name);
    writeFileSync(usersMarker, `${[...known].join('\n')}\n`);
  }
  const admin = stackKafka(kafkaBrokers).admin();
  await admin.connect();
  try {
    await ensureAcls(admin);
  } finally {
    await admin.disconnect();
  }
}

export function brokerPid(): number | undefined {
  return livePid(paths.kafkaPid, MARKER);
}

/** Ready means the broker answers an admin metadata call, not merely that the port is open. */
export async function brokerReady(timeoutMs = 2000): Promise<boolean> {
  const kafka = stackKafka(kafkaBrokers, {
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller >= 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function startKafka(): Promise<void> {
  ensureJars();
  let running = brokerPid();
  if (running && !existsSync(usersMarker)) {
    log('the running Kafka broker predates SASL: restarting it');
    await stopKafka();
    running = undefined;
  }
  if (running) {
    await waitFor(
      'Kafka broker',
      async () => ((await brokerReady()) ? true : undefined),
      90_000,
      () => tail(join(paths.kafkaLogs, 'server.log'), 30),
    );
    await ensurePrincipals();
    log(`kafka ${KAFKA_VERSION} already running (pid ${running}) on ${kafkaBrokers}`);
    return;
  }
  for (const port of [KAFKA_PORT, KAFKA_CONTROLLER_PORT]) {
    if (await portOpen(port)) {
      throw new Error(
        `port ${port} on ${KAFKA_HOST} is held by ${portHolder(port)}; the local Kafka broker needs ports ${KAFKA_PORT} and ${KAFKA_CONTROLLER_PORT}. Stop that program, or point the project at an existing broker with KAFKA_BROKERS.`,
      );
    }
  }
  writeConfig();
  formatStorage();
  const out = openSync(paths.kafkaStdout, 'a');
  const child = spawn(
    'java',
    [
      KAFKA_HEAP,
      '-Xms256m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      `-Dkafka.logs.dir=${paths.kafkaLogs}`,
      `-Dlog4j.configuration=file:${paths.kafkaLog4j}`,
      '-cp',
      `${paths.kafkaLibs}/*`,
      'kafka.Kafka',
      paths.kafkaProperties,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  if (!child.pid) throw new Error('could not start java: is a JDK 17+ on PATH?');
  writeFileSync(paths.kafkaPid, `${child.pid}\n`);
  child.unref();
  log(
    `started kafka ${KAFKA_VERSION} (pid ${child.pid}), waiting for an admin metadata answer on ${kafkaBrokers}…`,
  );
  const started = Date.now();
  await waitFor(
    'Kafka broker',
    async () => {
      if (!brokerPid()) {
        throw new Error(
          `the Kafka broker exited during start-up. Last lines of its log:\n${tail(join(paths.kafkaLogs, 'server.log'), 40)}\n${tail(paths.kafkaStdout, 20)}`,
        );
      }
      return (await brokerReady()) ? true : undefined;
    },
    90_000,
    () => tail(join(paths.kafkaLogs, 'server.log'), 30),
  );
  await ensurePrincipals();
  log(`kafka ready in ${((Date.now() - started) / 1000).toFixed(1)}s (SASL/SCRAM, ACLs enforced)`);
}

export async function stopKafka(): Promise<void> {
  const pids = new Set(findProcesses('kafka.Kafka', MARKER));
  const fromFile = brokerPid();
  if (fromFile) pids.add(fromFile);
  for (const pid of pids) {
    log(`stopping kafka (pid ${pid})`);
    // A clean shutdown flushes logs and avoids recovery on the next start; SIGKILL after 30 s.
    await stopPid(pid, 30_000);
  }
  rmSync(paths.kafkaPid, { force: true });
}

/** SIGKILL, as a crash would: no clean shutdown, the next start recovers from the logs. */
export async function killKafka(): Promise<void> {
  const pid = brokerPid();
  if (!pid) {
    log('kafka was not running');
    return;
  }
  process.kill(pid, 'SIGKILL');
  await waitFor('kafka exit', () => Promise.resolve(isAlive(pid) ? undefined : true), 10_000);
  log(`killed kafka (pid ${pid}) with SIGKILL`);
}

export function wipeKafkaData(): void {
  rmSync(paths.kafkaData, { recursive: true, force: true });
  rmSync(paths.kafkaClusterId, { force: true });
}

export const kafkaLogFile = join(paths.kafkaLogs, 'server.log');
