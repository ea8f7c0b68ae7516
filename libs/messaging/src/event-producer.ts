import { Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';

/**
 * The one long-lived producer of a process: idempotent (no duplicates from its own retries),
 * acks from all in-sync replicas, connected once.
 */
export class EventProducer {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      // Named rather than defaulted (kafkajs warns at every start otherwise): the Java client's
      // murmur2 partitioning, so a key lands where other Kafka clients put it.
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
  }

  connect(): Promise<void> {
    this.connected ??= this.producer.connect();
    return this.connected;
  }

  async send(topic: string, messages: Message[]): Promise<RecordMetadata[]> {
    await this.connect();
    return this.producer.send({ topic, messages, acks: -1 });
  }

  /** Messages for several topics in one produce request (one round trip, one broker request). */
  async sendBatch(
    batches: Array<{ topic: string; messages: Message[] }>,
  ): Promise<RecordMetadata[]> {
    await this.connect();
    return this.producer.sendBatch({ topicMessages: batches, acks: -1 });
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }
}
