import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { KeyHashPartitioner, murmur2 } from './partitioner';

// kafkajs' own murmur2 (what Partitioners.DefaultPartitioner hashes with); no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (
  key: Buffer | string,
) => number;

const partitions = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 1,
    replicas: [1],
    isr: [1],
  }));

describe('murmur2', () => {
  it("gives the Java client's own test vectors (Kafka's UtilsTest)", () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    expect(vectors.map(([key]) => [key, murmur2(key)])).toEqual(vectors);
  });

  it("equals kafkajs' murmur2 on every length 0..64, random bytes and Vietnamese text", () => {
    const keys: Array<Buffer | string> = [];
    for (let length = 0; length <= 64; length += 1)
      for (let i = 0; i < 20; i += 1) keys.push(randomBytes(length));
    for (let i = 0; i < 500; i += 1)
      keys.push(
        `dossier:000.00.${i}.H${i * 7919}`,
        `Xã Đông Hưng ${i} — hồ sơ ${'ắ'.repeat(i % 9)}`,
      );
    const differ = keys.filter((key) => murmur2(key) !== kafkajsMurmur2(key));
    expect(differ).toEqual([]);
  });
});

describe('KeyHashPartitioner', () => {
  const topic = 'sync.status.v2';

  it("puts every keyed message where kafkajs' DefaultPartitioner puts it", () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const partitionMetadata = partitions(12);
    const keys = Array.from({ length: 2000 }, (_, i) => `dossier:H-${i}-${i % 7}`);
    const differ = keys.filter((key) => {
      const message = { key, value: 'x' };
      return (
        ours({ topic, partitionMetadata, message }) !==
        theirs({ topic, partitionMetadata, message })
      );
    });
    expect(differ).toEqual([]);
  });

  it('keeps a partition the message names, and sends keyless messages round robin over partitions with a leader', () => {
    const partition = KeyHashPartitioner();
    const partitionMetadata = partitions(4, [1]);
    expect(
      partition({ topic, partitionMetadata, message: { key: 'k', value: 'x', partition: 3 } }),
    ).toBe(3);
    const keyless = Array.from({ length: 9 }, () =>
      partition({ topic, partitionMetadata, message: { value: 'x' } }),
    );
    expect(new Set(keyless)).toEqual(new Set([0, 2, 3]));
    // Consecutive keyless messages take consecutive partitions with a leader.
    const order = [0, 2, 3];
    for (let i = 1; i < keyless.length; i += 1)
      expect(order.indexOf(keyless[i] as number)).toBe(
        (order.indexOf(keyless[i - 1] as number) + 1) % order.length,
      );
  });

  it('still answers a partition when none has a leader (the produce then waits for metadata)', () => {
    const partition = KeyHashPartitioner();
    const p = partition({
      topic,
      partitionMetadata: partitions(3, [0, 1, 2]),
      message: { value: 'x' },
    });
    expect([0, 1, 2]).toContain(p);
  });
});
