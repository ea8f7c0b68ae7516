import type { DataSource } from 'typeorm';
import { EVENT_TYPES, encodeEvent } from '@lienthong/contracts';
import type { SyncStatus } from '@lienthong/contracts';
import { Wakeup } from './wakeup';

/** The producer the relay needs (libs/messaging's EventProducer is one). */
export interface OutboxProducer {
  send(
    topic: string,
    messages: Array<{ key: string; value: Buffer; headers: Record<string, string> }>,
  ): Promise<unknown>;
}

export interface OutboxRelayOptions {
  dataSource: DataSource;
  producer: OutboxProducer;
  /** The publishing service, e.g. dossier-sync: ce_source /lienthong/<service>, and part of every event id. */
  service: string;
  batchSize: number;
  idleMs: number;
  /** Tests publish to their own topic names. */
  topicFor?: (topic: string) => string;
  onError?: (err: unknown) => void;
  /** Cuts the idle wait short when this process just wrote outbox rows (see Wakeup). */
  wakeup?: Wakeup;
}

/**
 * Publish (design.md, step 3): turns outbox rows into sync.status.v1 CloudEvents, in id order, and
 * marks them published in the same transaction after Kafka acknowledged them. A crash in between
 * publishes them again with the same event ids (`<service>-outbox-<id>`), so consumers can drop
 * the repeat. One relay publishes at a time (advisory lock), which keeps per-entity order across
 * instances.
 */
export class OutboxRelay {
  published = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup: Wakeup;

  constructor(private readonly options: OutboxRelayOptions) {
    this.wakeup = options.wakeup ?? new Wakeup();
  }

  async runOnce(): Promise<number> {
    const { dataSource, producer, service, batchSize } = this.options;
    return dataSource.transaction(async (tx) => {
      const [lock] = await tx.query<Array<{ locked: boolean }>>(
        'select pg_try_advisory_xact_lock(hashtext($1)) locked',
        [`lienthong:outbox:${service}`],
      );
      if (!lock?.locked) return 0;
      const rows = await tx.query<
        Array<{ id: string; topic: string; message_key: string; payload: SyncStatus }>
      >(
        'select id, topic, message_key, payload from outbox where published_at is null order by id limit $1',
        [batchSize],
      );
      if (rows.length === 0) return 0;
      const byTopic = new Map<string, typeof rows>();
      for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
      for (const [topic, group] of byTopic) {
        await producer.send(
          this.options.topicFor?.(topic) ?? topic,
          group.map((row) =>
            encodeEvent(EVENT_TYPES.SyncStatus, row.payload, {
              id: `${service}-outbox-${row.id}`,
              source: `/lienthong/${service}`,
              subject: row.message_key,
              time: row.payload.occurredAt,
            }),
          ),
        );
      }
      await tx.query('update outbox set published_at = now() where id = any($1::bigint[])', [
        rows.map((r) => r.id),
      ]);
      this.published += rows.length;
      return rows.length;
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const n = await this.runOnce().catch((err: unknown) => {
          (
            this.options.onError ??
            ((e: unknown) => process.stderr.write(`outbox relay round failed: ${String(e)}\n`))
          )(err);
          return 0;
        });
        if (n === 0 && this.running) await this.wakeup.wait(this.options.idleMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }
}
