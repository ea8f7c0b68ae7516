import { setTimeout as pace } from 'node:timers/promises';
import { BrokerControl } from '../broker-control';
import { connectedProducer, RecordingConsumer } from '../kafka';
import { expectEventually } from '../expect-eventually';
import { useTestContext } from '../test-context';

const TOTAL = 5_000;
const BATCH = 50;

describe(`real Kafka at ${process.env.KAFKA_BROKERS ?? '?'}: broker crash mid-consumption`, () => {
  const ctx = useTestContext('broker-restart');

  it('loses no acknowledged message when the broker is killed and restarted under load', async () => {
    const topic = await ctx.createTopic('restart', 6);
    const broker = new BrokerControl(ctx.stack.kind);
    const consumer = new RecordingConsumer(ctx.kafka);
    await consumer.start(topic);
    const producer = await connectedProducer(ctx.kafka);
    const acked = new Set<string>();

    // A steady stream, as communes produce it. A batch counts only once the broker acknowledged
    // it (acks = all); a batch that fails while the broker is down is sent again.
    const produce = async () => {
      for (let i = 0; i < TOTAL; i += BATCH) {
        const values = Array.from({ length: BATCH }, (_, j) => String(i + j));
        for (;;) {
          try {
            await producer.send({
              topic,
              acks: -1,
              messages: values.map((v) => ({ key: `k${Number(v) % 97}`, value: v })),
            });
            break;
          } catch {
            await pace(200);
          }
        }
        values.forEach((v) => acked.add(v));
        await pace(20);
      }
    };

    try {
      const producing = produce();
      await expectEventually(() => expect(consumer.messages.length).toBeGreaterThanOrEqual(1_000), {
        timeoutMs: 60_000,
      });
      const consumedAtCrash = consumer.messages.length;
      const ackedAtCrash = acked.size;
      await broker.kill();
      await broker.start();
      await producing;

      await expectEventually(
        () => expect(new Set(consumer.messages.map((m) => m.value)).size).toBe(TOTAL),
        { timeoutMs: 150_000, intervalMs: 250 },
      );
      // The crash really came mid-stream: both sides had work before and after it.
      expect(consumedAtCrash).toBeLessThan(TOTAL);
      expect(ackedAtCrash).toBeLessThan(TOTAL);
      expect(acked.size).toBe(TOTAL);
      const seen = new Set(consumer.messages.map((m) => m.value));
      expect([...acked].filter((v) => !seen.has(v))).toEqual([]);
    } finally {
      await producer.disconnect();
      await consumer.stop();
    }
  });
});
