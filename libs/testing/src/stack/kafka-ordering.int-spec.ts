import { connectedProducer, RecordingConsumer } from '../kafka';
import { expectEventually } from '../expect-eventually';
import { useTestContext } from '../test-context';

const KEYS = 200;
const PER_KEY = 50; // 10,000 messages

describe(`real Kafka at ${process.env.KAFKA_BROKERS ?? '?'}: keyed order`, () => {
  const ctx = useTestContext('kafka-ordering');

  it('consumes 10,000 keyed messages over 6 partitions back, each key in order, none lost', async () => {
    const topic = await ctx.createTopic('ordering', 6);
    const producer = await connectedProducer(ctx.kafka);
    try {
      // Interleave keys the way communes interleave dossiers: sequence n of every key, then n+1.
      for (let seq = 0; seq < PER_KEY; seq += 1) {
        await producer.send({
          topic,
          messages: Array.from({ length: KEYS }, (_, k) => ({
            key: `H56.14-250702-${String(k).padStart(4, '0')}`,
            value: JSON.stringify({ seq }),
          })),
        });
      }
    } finally {
      await producer.disconnect();
    }

    const consumer = new RecordingConsumer(ctx.kafka);
    await consumer.start(topic);
    try {
      await expectEventually(
        () => expect(consumer.messages.length).toBeGreaterThanOrEqual(KEYS * PER_KEY),
        {
          timeoutMs: 120_000,
          intervalMs: 250,
        },
      );
    } finally {
      await consumer.stop();
    }

    expect(consumer.messages).toHaveLength(KEYS * PER_KEY);
    expect(new Set(consumer.messages.map((m) => m.partition)).size).toBe(6);
    const byKey = new Map<string, number[]>();
    const partitionOfKey = new Map<string, Set<number>>();
    for (const m of consumer.messages) {
      const key = m.key ?? '';
      byKey.set(key, [
        ...(byKey.get(key) ?? []),
        (JSON.parse(m.value ?? '{}') as { seq: number }).seq,
      ]);
      partitionOfKey.set(key, (partitionOfKey.get(key) ?? new Set()).add(m.partition));
    }
    expect(byKey.size).toBe(KEYS);
    const expected = Array.from({ length: PER_KEY }, (_, i) => i);
    for (const [key, seqs] of byKey) {
      expect({ key, seqs }).toEqual({ key, seqs: expected });
      expect(partitionOfKey.get(key)?.size).toBe(1);
    }
  });
});
