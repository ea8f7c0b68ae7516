import { Injectable } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import type { Admin } from 'kafkajs';

/** One admin connection for readiness checks: connected on first use, reconnected after a failure. */
@Injectable()
export class KafkaProbe implements OnApplicationShutdown {
  private admin: Admin | undefined;

  constructor(private readonly kafka: Kafka) {}

  async brokers(): Promise<number> {
    try {
      if (!this.admin) {
        this.admin = this.kafka.admin();
        await this.admin.connect();
      }
      return (await this.admin.describeCluster()).brokers.length;
    } catch (err) {
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      throw err;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.disconnect();
  }
}
