import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which its default partitioner hashes keys
 * with) in 32-bit integer arithmetic, as Java computes it.
 *
 * Written by hand because kafkajs' own copy emulates 64-bit arithmetic with a `Long` object per
 * operation (several allocations per four bytes of key): 7.3 µs for a status record's key against
 * 0.4 µs here, and dossier-sync partitions two status records per ingested event. The results are
 * the same numbers (partitioner.spec.ts compares both on many keys and checks the Java client's own
 * test vectors), so a key lands on the partition any other Kafka client puts it on.
 */
export function murmur2(key: Buffer | string): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i += 1) {
    const at = i * 4;
    let k =
      (data[at] as number) |
      ((data[at + 1] as number) << 8) |
      ((data[at + 2] as number) << 16) |
      ((data[at + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[tail + 2] as number) << 16;
    if (rest >= 2) h ^= (data[tail + 1] as number) << 8;
    h ^= data[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const toPositive = (x: number) => x & 0x7fffffff;

/**
 * The Java client's default partitioning, as kafkajs' `Partitioners.DefaultPartitioner` does it: a
 * message's own partition if it names one; else murmur2 of its key modulo the partition count; else
 * (no key) round robin over the partitions that have a leader. Only the hash differs from kafkajs'
 * (see murmur2), and the partitions with a leader are listed only for a message without a key
 * (kafkajs filters them for every message).
 */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined)
      return toPositive(murmur2(message.key)) % partitionMetadata.length;
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    const counter = (counters.get(topic) ?? Math.floor(Math.random() * 2 ** 31)) + 1;
    counters.set(topic, counter);
    if (available.length === 0) return toPositive(counter) % partitionMetadata.length;
    return (available[toPositive(counter) % available.length] as { partitionId: number })
      .partitionId;
  };
};
