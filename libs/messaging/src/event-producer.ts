import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { KeyHashPartitioner } from './partitioner';

/**
 * The one long-lived producer of a process: idempotent (no duplicates from its own retries),
 * acks from all in-sync replicas, connected once.
 */
export class EventProducer {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      // The Java client's murmur2 partitioning, so a key lands where other Kafka clients put it
      // (kafkajs' DefaultPartitioner, with a hash 19× cheaper: see partitioner.ts).
      createPartitioner: KeyHashPartitioner,
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
