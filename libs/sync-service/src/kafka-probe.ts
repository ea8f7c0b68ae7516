import { Injectable } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import type { Admin } from 'kafkajs';

/**
 * One admin connection for readiness checks and lag: connected on first use, reconnected after
 * a failure.
 */
@Injectable()
export class KafkaProbe implements OnApplicationShutdown {
  private admin: Admin | undefined;

  constructor(private readonly kafka: Kafka) {}

  private async use<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      if (!this.admin) {
        this.admin = this.kafka.admin();
        await this.admin.connect();
      }
      return await work(this.admin);
    } catch (err) {
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      throw err;
    }
  }

  async brokers(): Promise<number> {
    return this.use(async (admin) => (await admin.describeCluster()).brokers.length);
  }

  /**
   * Messages of `topic` the group has not consumed: the end of each partition minus the group's
   * committed offset (the whole partition when the group committed nothing there yet).
   */
  async lag(groupId: string, topic: string): Promise<number> {
    return this.use(async (admin) => {
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const at = new Map(committed?.partitions.map((p) => [p.partition, BigInt(p.offset)]));
      let lag = 0n;
      for (const end of ends) {
        const high = BigInt(end.high);
        const done = at.get(end.partition) ?? -1n;
        const from = done < 0n ? BigInt(end.low) : done;
        if (high > from) lag += high - from;
      }
      return Number(lag);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.disconnect();
  }
}
