// Replays a consumed topic on purpose (docs/failure-model.md, "Replaying a topic"):
//   npm run consumer:rewind -- --schema dossier_sync --group lienthong-dossier-sync \
//     --topic commune.dossier.events.v1 (--to-offset 0 | --to-time 2025-07-01T00:00:00+07:00)
// Stop every instance of the service first: Kafka refuses to move the offsets of a group with
// running members. DATABASE_URL and KAFKA_BROKERS as for the service.
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { kafkaSaslFromEnv } from '../src/kafka-client';
import { rewindConsumer } from '../src/rewind';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const schema = arg('schema');
  const groupId = arg('group');
  const topic = arg('topic');
  const toOffset = arg('to-offset');
  const toTime = arg('to-time');
  if (!schema || !groupId || !topic || (toOffset === undefined) === (toTime === undefined)) {
    throw new Error(
      'usage: --schema S --group G --topic T and one of --to-offset N or --to-time RFC3339',
    );
  }
  if (toTime !== undefined && Number.isNaN(Date.parse(toTime)))
    throw new Error('--to-time: must be an RFC 3339 timestamp');
  if (toOffset !== undefined && !/^\d+$/.test(toOffset))
    throw new Error('--to-offset: must be a whole number');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('--schema: not a schema name');
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  try {
    await db.query(`set search_path to "${schema}"`);
    const kafka = new Kafka({
      clientId: 'lienthong-rewind',
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      sasl: kafkaSaslFromEnv(),
      logLevel: logLevel.ERROR,
    });
    const targets = await rewindConsumer({
      kafka,
      db: {
        query: async <T>(sql: string, params?: unknown[]) =>
          (await db.query(sql, params)).rows as T,
      },
      groupId,
      topic,
      ...(toOffset !== undefined ? { toOffset: BigInt(toOffset) } : {}),
      ...(toTime !== undefined ? { toTime: new Date(toTime) } : {}),
    });
    for (const t of targets) process.stdout.write(`${topic}[${t.partition}] → ${t.offset}\n`);
    process.stdout.write('rewound; start the service to replay\n');
  } finally {
    await db.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`rewind failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
