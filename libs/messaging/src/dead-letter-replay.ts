import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { originalOfDeadLetter } from '@lienthong/contracts';
import type { EventProducer } from './event-producer';

/** Which dead letters to send back: all of a topic, or some by place, error code or event id. */
export interface ReplaySelection {
  partition?: number;
  fromOffset?: string;
  toOffset?: string;
  errorCode?: string;
  eventIds?: string[];
}

/** A DLQ topic is small (30 days of mistakes); reading it to its end takes seconds. */
const READ_TIMEOUT_MS = 120_000;

const text = (v: Buffer | string | undefined) =>
  v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : v;

function header(m: KafkaMessage, name: string): string | undefined {
  const v = m.headers?.[name];
  return text(Array.isArray(v) ? v[0] : v);
}

/**
 * Sends dead letters back to the topic they came from, byte for byte as they first arrived (the
 * dlq_* headers dropped), so the service consumes them again — after an operator fixed what made
 * them fail. Reads the DLQ topic up to its end as it is now with a throw-away consumer group.
 * Sending one twice is harmless: ingest dedupes by CloudEvents source + id, and a record that was
 * never applied (it was dead-lettered) is applied once.
 */
export async function replayDeadLetters(
  kafka: Kafka,
  producer: EventProducer,
  dlqTopic: string,
  selection: ReplaySelection,
  /** The service's own consumer-group prefix: its Kafka principal may use only groups under it. */
  groupPrefix: string,
): Promise<{
  count: number;
  letters: Array<{ partition: number; offset: string }>;
  eventIds: string[];
}> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${groupPrefix}.replay-${randomUUID()}`;
  try {
    const ends = (await admin.fetchTopicOffsets(dlqTopic))
      .filter((p) => selection.partition === undefined || p.partition === selection.partition)
      .map((p) => ({
        partition: p.partition,
        from: BigInt(
          selection.fromOffset !== undefined && BigInt(selection.fromOffset) > BigInt(p.low)
            ? selection.fromOffset
            : p.low,
        ),
        // Up to the end as it is now (high is the next offset to be written).
        to: (() => {
          const last = BigInt(p.high) - 1n;
          return selection.toOffset !== undefined && BigInt(selection.toOffset) < last
            ? BigInt(selection.toOffset)
            : last;
        })(),
      }))
      .filter((p) => p.to >= p.from);
    if (ends.length === 0) return { count: 0, letters: [], eventIds: [] };
    const wanted = selection.eventIds ? new Set(selection.eventIds) : undefined;
    const picked: Array<KafkaMessage & { partition: number }> = [];
    const left = new Set(ends.map((p) => p.partition));
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
      let finish: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (finish = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = ends.find((p) => p.partition === batch.partition);
          if (!end) return;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset < end.from || offset > end.to) continue;
            const code = header(m, 'dlq_error_code');
            const id = header(m, 'ce_id');
            if (selection.errorCode !== undefined && code !== selection.errorCode) continue;
            if (wanted && (id === undefined || !wanted.has(id))) continue;
            picked.push({ ...m, partition: batch.partition });
          }
          const last = batch.messages[batch.messages.length - 1];
          if (last && BigInt(last.offset) >= end.to) {
            left.delete(batch.partition);
            if (left.size === 0) finish();
          }
          await Promise.resolve();
        },
      });
      for (const p of ends)
        consumer.seek({ topic: dlqTopic, partition: p.partition, offset: String(p.from) });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, fail) => {
        timer = setTimeout(
          () =>
            fail(
              new Error(`reading ${dlqTopic} did not reach its end within ${READ_TIMEOUT_MS} ms`),
            ),
          READ_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([done, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await consumer.disconnect();
    }
    // Back to where each came from, grouped by source topic.
    const bySource = new Map<string, KafkaMessage[]>();
    const sent: typeof picked = [];
    for (const m of picked) {
      const source = header(m, 'dlq_source_topic');
      if (!source) continue;
      bySource.set(source, [...(bySource.get(source) ?? []), m]);
      sent.push(m);
    }
    for (const [source, messages] of bySource)
      await producer.send(
        source,
        messages.map((m) => {
          const original = originalOfDeadLetter({ key: m.key, value: m.value, headers: m.headers });
          return {
            key: original.key,
            value: original.value,
            headers: Object.fromEntries(
              Object.entries(original.headers ?? {}).filter(([, v]) => v !== undefined),
            ) as Record<string, Buffer | string | (Buffer | string)[]>,
          };
        }),
      );
    return {
      count: sent.length,
      letters: sent.map((m) => ({ partition: m.partition, offset: m.offset })),
      eventIds: sent.map((m) => header(m, 'ce_id')).filter((id): id is string => id !== undefined),
    };
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
