import { ContractValidator, readEvent } from '@lienthong/contracts';
import {
  connectedProducer,
  expectEventually,
  kafkaPrincipalSasl,
  toRecord,
  useTestContext,
  validFixtureEvents,
} from '@lienthong/testing';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaMessage } from 'kafkajs';

describe(`contracts over real Kafka at ${process.env.KAFKA_BROKERS ?? '?'}`, () => {
  const ctx = useTestContext('contracts-roundtrip');

  it('keeps key, headers and payload byte for byte, and the events stay valid', async () => {
    const topic = await ctx.createTopic('roundtrip', 3);
    const events = validFixtureEvents();
    const sent = events.map((e, i) => ({
      event: e,
      record: toRecord(e, {
        traceparent: `00-${'ab'.repeat(16)}-${String(i).padStart(16, '0')}-01`,
      }),
    }));
    const producer = await connectedProducer(ctx.kafka);
    await producer.send({ topic, messages: sent.map((s) => s.record) });
    await producer.disconnect();

    // Read raw records (Buffers), as a consumer's eachBatch sees them.
    const received: KafkaMessage[] = [];
    const kafka = new Kafka({
      brokers: ctx.stack.kafkaBrokers,
      sasl: kafkaPrincipalSasl('test'),
      logLevel: logLevel.ERROR,
    });
    const consumer = kafka.consumer({ groupId: `${topic}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => Promise.resolve(void received.push(message)),
    });
    try {
      await expectEventually(() => expect(received).toHaveLength(sent.length), {
        timeoutMs: 60_000,
      });
    } finally {
      await consumer.disconnect();
    }

    const validator = new ContractValidator();
    for (const { event, record } of sent) {
      const got = received.find((m) => m.headers?.ce_id?.toString() === record.headers.ce_id);
      expect(got).toBeDefined();
      if (!got) continue;
      expect(got.key?.equals(Buffer.from(record.key))).toBe(true);
      expect(got.value?.equals(record.value)).toBe(true);
      const headers = Object.fromEntries(
        Object.entries(got.headers ?? {}).map(([k, v]) => [k, v?.toString()]),
      );
      expect(headers).toEqual(record.headers);
      const read = readEvent(
        { key: got.key, value: got.value, headers: got.headers },
        event.topic,
        validator,
      );
      expect(read.ok ? read.value.envelope.subject : read.failure).toBe(record.key);
    }
  });
});
