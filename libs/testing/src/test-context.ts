import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { expectEventually } from './expect-eventually';
import { testKafka } from './kafka';
import { TestSql } from './sql';
import { testStack } from './test-env';
import type { TestStack } from './test-env';

/** What one test file gets to itself: a database schema and topic names nobody else uses. */
export interface TestContext {
  readonly stack: TestStack;
  /** A fresh schema, dropped after the file's tests. */
  readonly schema: string;
  readonly sql: TestSql;
  readonly kafka: Kafka;
  /** This file's name for a topic: unique per file and run, so parallel files never share data. */
  topic(base: string): string;
  /** Creates this file's topic (auto-creation is off on our brokers); deleted after the file. */
  createTopic(base: string, partitions: number): Promise<string>;
  /**
   * Registers cleanup (stop a process, close a pool) to run before the context drops its schemas
   * and topics; the last registered runs first. Schemas named `<schema>_…` are dropped too.
   */
  onCleanup(fn: () => unknown): void;
}

/**
 * Call once at the top of a test file: registers beforeAll/afterAll that create and clean up the
 * file's schema and topics. Fields are usable inside tests and hooks, not at module load.
 */
export function useTestContext(label: string): TestContext {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30);
  const suffix = randomBytes(4).toString('hex');
  const schema = `t_${safe}_${suffix}`;
  const created = new Set<string>();
  const cleanups: Array<() => unknown> = [];
  let state: { stack: TestStack; sql: TestSql; kafka: Kafka } | undefined;
  const ready = () => {
    if (!state)
      throw new Error('useTestContext: used before beforeAll ran (use it inside tests or hooks)');
    return state;
  };

  beforeAll(async () => {
    const stack = testStack();
    const sql = new TestSql(stack.databaseUrl, schema);
    await sql.query(`create schema "${schema}"`);
    state = { stack, sql, kafka: testKafka(stack.kafkaBrokers, `test-${safe}`) };
  });

  afterAll(async () => {
    // Every cleanup runs, even after one fails (a failed check must not leave services running);
    // the failures are reported together at the end.
    const failures: unknown[] = [];
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
      }
    }
    try {
      await dropAll();
    } catch (err) {
      failures.push(err);
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1)
      throw new AggregateError(failures, `${failures.length} cleanups failed`);
  });

  const dropAll = async () => {
    if (!state) return;
    const { sql, kafka } = state;
    const schemas = await sql.query<{ nspname: string }>(
      `select nspname from pg_namespace where nspname = $1 or nspname like $2`,
      [schema, `${schema}\\_%`],
    );
    for (const { nspname } of schemas)
      await sql.query(`drop schema if exists "${nspname}" cascade`);
    await sql.end();
    if (created.size > 0) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [...created], timeout: 30_000 }).catch(() => undefined);
      await admin.disconnect();
    }
  };

  const topic = (base: string) => `test.${safe}.${suffix}.${base}`;
  return {
    get stack() {
      return ready().stack;
    },
    schema,
    get sql() {
      return ready().sql;
    },
    get kafka() {
      return ready().kafka;
    },
    topic,
    onCleanup(fn) {
      cleanups.push(fn);
    },
    async createTopic(base: string, partitions: number): Promise<string> {
      const name = topic(base);
      const admin = ready().kafka.admin();
      await admin.connect();
      try {
        // Right after a creation (or a broker restart) KRaft may answer a metadata request with
        // UNKNOWN_TOPIC_OR_PARTITION before the topic's leaders are known: a retriable error
        // kafkajs passes on from createTopics. Ask again (an existing topic is no error), until
        // the topic's metadata names a leader for every partition.
        await expectEventually(
          async () => {
            await admin.createTopics({
              waitForLeaders: true,
              topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }],
            });
            const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
            const led = topics[0]?.partitions.filter((p) => p.leader >= 0).length;
            expect(led).toBe(partitions);
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
      } finally {
        await admin.disconnect();
      }
      created.add(name);
      return name;
    },
  };
}
