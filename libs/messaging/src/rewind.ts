import type { Kafka } from 'kafkajs';
import type { SqlExecutor } from './consumer-offset.store';
import { ConsumerOffsetStore } from './consumer-offset.store';

export interface RewindRequest {
  kafka: Kafka;
  db: SqlExecutor;
  groupId: string;
  topic: string;
  /** Rewind every partition to this offset… */
  toOffset?: bigint;
  /** …or to the first record at or after this time. */
  toTime?: Date;
}

/**
 * Replays a topic on purpose: sets the consumer group's Kafka offsets AND the offsets stored with
 * the work to the same place, so the records from there on are handed to the handler again (they
 * are not skipped as "applied before"). The group must have no running member (Kafka refuses
 * otherwise): stop every instance first. Ingest is idempotent (dedupe by source + id, per-entity
 * sequences), so a replay changes only what was lost or is past the dedupe retention.
 */
export async function rewindConsumer(
  request: RewindRequest,
): Promise<Array<{ partition: number; offset: string }>> {
  const admin = request.kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(request.topic);
    let targets: Array<{ partition: number; offset: string }>;
    if (request.toTime) {
      const at = await admin.fetchTopicOffsetsByTimestamp(request.topic, request.toTime.getTime());
      targets = at.map((p) => ({
        partition: p.partition,
        // -1: no record at or after that time: the end of the partition.
        offset:
          p.offset === '-1'
            ? (ends.find((e) => e.partition === p.partition)?.high ?? '0')
            : p.offset,
      }));
    } else {
      const to = request.toOffset ?? 0n;
      targets = ends.map((e) => {
        const low = BigInt(e.low);
        const high = BigInt(e.high);
        const offset = to < low ? low : to > high ? high : to;
        return { partition: e.partition, offset: offset.toString() };
      });
    }
    await admin.setOffsets({ groupId: request.groupId, topic: request.topic, partitions: targets });
    const store = new ConsumerOffsetStore();
    for (const t of targets)
      await store.reset(request.db, request.groupId, request.topic, t.partition, BigInt(t.offset));
    return targets;
  } finally {
    await admin.disconnect();
  }
}
