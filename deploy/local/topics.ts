// Creates the project's topics from contracts/topics.json, idempotently: missing topics are
// created, topics with fewer partitions than listed are grown, nothing is ever deleted.
import { readFileSync } from 'node:fs';
import { kafkaBrokers, paths } from './config.ts';
import { stackKafka } from './kafka-security.ts';

export interface TopicSpec {
  name: string;
  partitions: number;
  retentionDays: number;
}

export function topicList(): TopicSpec[] {
  const doc = JSON.parse(readFileSync(paths.topics, 'utf8')) as { topics: TopicSpec[] };
  return doc.topics;
}

/**
 * As `ensureTopicsOnce`, again while the broker answers with a retriable error: just after a
 * restart over existing data it may not lead its partitions yet ("does not host this
 * topic-partition").
 */
export async function ensureTopics(
  brokers = kafkaBrokers,
): Promise<{ created: string[]; grown: string[] }> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await ensureTopicsOnce(brokers);
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable === true;
      if (!retriable || attempt >= 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function ensureTopicsOnce(brokers: string): Promise<{ created: string[]; grown: string[] }> {
  const admin = stackKafka(brokers).admin();
  await admin.connect();
  try {
    const specs = topicList();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'retention.ms', value: String(t.retentionDays * 86_400_000) }],
        })),
      });
    }
    const present = specs.filter((t) => existing.has(t.name));
    const grown: string[] = [];
    if (present.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
      const toGrow = present.filter((spec) => {
        const found = meta.topics.find((m) => m.name === spec.name);
        return found !== undefined && found.partitions.length < spec.partitions;
      });
      if (toGrow.length > 0) {
        await admin.createPartitions({
          topicPartitions: toGrow.map((t) => ({ topic: t.name, count: t.partitions })),
        });
        grown.push(...toGrow.map((t) => t.name));
      }
    }
    return { created: missing.map((t) => t.name), grown };
  } finally {
    await admin.disconnect();
  }
}
