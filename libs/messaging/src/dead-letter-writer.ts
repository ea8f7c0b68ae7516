import type { Message } from 'kafkajs';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { deadLetterRecord, dlqTopicFor } from '@lienthong/contracts';
import type { DeadLetterContext, DeadLetterReason, KafkaRecord } from '@lienthong/contracts';
import type { SqlExecutor } from './consumer-offset.store';
import type { EventProducer } from './event-producer';

/** One record to dead-letter: the original as received, why, and where it came from. */
export interface DeadLetter {
  original: KafkaRecord;
  reason: DeadLetterReason;
  context: DeadLetterContext;
}

export interface DeadLetterWriterOptions {
  producer: EventProducer;
  /**
   * The largest dead letter sent to Kafka, in bytes (key + value + headers). Kafka's default
   * message.max.bytes is 1 MiB; an original near that size plus the dlq_* headers would be
   * refused, so its bytes are kept in Postgres and the dead letter carries a reference instead.
   */
  maxBytes?: number;
  /** The table that keeps oversize originals (schema-qualified if needed). */
  table?: string;
}

function size(value: Buffer | string | null | undefined): number {
  return value === null || value === undefined
    ? 0
    : Buffer.isBuffer(value)
      ? value.length
      : Buffer.byteLength(value);
}

function recordBytes(message: Message): number {
  let n = size(message.key) + size(message.value);
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    n += Buffer.byteLength(k);
    for (const one of Array.isArray(v) ? v : [v]) n += size(one);
  }
  return n;
}

function asBuffer(value: Buffer | string | null | undefined): Buffer | null {
  return value === null || value === undefined
    ? null
    : Buffer.isBuffer(value)
      ? value
      : Buffer.from(value);
}

/**
 * Writes dead letters to `<topic>.dlq.v1`, acknowledged by all in-sync replicas, and knows whether
 * the last write worked: a DLQ that cannot be written stops consumption (the batch is not
 * committed, so nothing is lost) and makes the service unready — loudly, never silently.
 */
export class DeadLetterWriter {
  /** The last write failed: consumption is stopped until one succeeds. */
  failing: Error | undefined;
  private readonly maxBytes: number;
  private readonly table: string;

  constructor(private readonly options: DeadLetterWriterOptions) {
    this.maxBytes = options.maxBytes ?? 900_000;
    this.table = options.table ?? 'dead_letter_original';
  }

  /**
   * Sends the dead letters of one source topic. `db` keeps oversize originals: pass the
   * transaction that also stores the consumed offset, so the reference and the offset commit
   * together.
   */
  async send(sourceTopic: string, letters: DeadLetter[], db: SqlExecutor): Promise<void> {
    if (letters.length === 0) return;
    const messages: Message[] = [];
    for (const letter of letters) {
      const record = deadLetterRecord(letter.original, letter.reason, letter.context) as Message;
      if (recordBytes(record) <= this.maxBytes) {
        messages.push(record);
        continue;
      }
      const [row] = await db.query<Array<{ id: string }>>(
        `insert into ${this.table} (source_topic, source_partition, source_offset, record_key, record_value, record_headers)
         values ($1, $2, $3, $4, $5, $6) returning id`,
        [
          sourceTopic,
          letter.context.partition,
          letter.context.offset,
          asBuffer(letter.original.key),
          asBuffer(letter.original.value),
          JSON.stringify(
            Object.fromEntries(
              Object.entries(letter.original.headers ?? {}).map(([k, v]) => [
                k,
                (Array.isArray(v) ? v : [v]).map((x) => (x === undefined ? null : String(x))),
              ]),
            ),
          ),
        ],
      );
      // The bytes stay in Postgres; the dead letter names where (dlq_original_ref), keeps the
      // dlq_* headers (they never hold payload text) and the original headers if they fit.
      const reduced: Message = {
        key: record.key ?? null,
        value: null,
        headers: {
          ...record.headers,
          dlq_original_ref: `postgres:${this.table}/${row?.id ?? ''}`,
          dlq_original_bytes: String(size(letter.original.value)),
        },
      };
      if (recordBytes(reduced) > this.maxBytes)
        for (const name of Object.keys(reduced.headers ?? {}))
          if (!name.startsWith('dlq_')) delete reduced.headers?.[name];
      messages.push(reduced);
    }
    try {
      await this.options.producer.send(dlqTopicFor(sourceTopic), messages);
      this.failing = undefined;
    } catch (err) {
      this.failing = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }
}

/** Oversize originals of dead letters; include in the migrations of every consuming service. */
export class DeadLetterOriginal1763800000600 implements MigrationInterface {
  name = 'DeadLetterOriginal1763800000600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table dead_letter_original (
        id bigserial primary key,
        source_topic text not null,
        source_partition integer not null,
        source_offset bigint not null,
        record_key bytea,
        record_value bytea,
        record_headers jsonb not null,
        created_at timestamptz not null default now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table dead_letter_original');
  }
}
