import { prepared, returnedRows } from '@lienthong/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Anything that runs SQL: a TypeORM EntityManager or QueryRunner inside the handler's transaction. */
export interface SqlExecutor {
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
}

/**
 * The next offset to apply per (group, topic, partition), stored in the same transaction as the
 * work the records caused. Kafka's own committed offset may lag behind it (a crash between the
 * database commit and the Kafka commit): records below the stored offset were applied already and
 * are skipped, so nothing is applied twice.
 */
export class ConsumerOffsetStore {
  constructor(private readonly table = 'consumer_offset') {}

  async next(
    db: SqlExecutor,
    group: string,
    topic: string,
    partition: number,
  ): Promise<bigint | undefined> {
    const rows = await db.query<Array<{ next_offset: string }>>(
      prepared(
        `select next_offset from ${this.table} where group_id = $1 and topic = $2 and partition = $3`,
      ),
      [group, topic, partition],
    );
    return rows[0] ? BigInt(rows[0].next_offset) : undefined;
  }

  /**
   * Stores, per partition, `next` as the next offset of work that applied its records from `from`
   * on, unless an offset past `from` is stored already for that partition: someone else applied
   * some of those records first (another member of the group, this one expelled without knowing, or
   * a late redelivery). Then it throws OffsetMovedError (its message names those partitions), and the caller's
   * transaction must roll back. So an offset never moves back, and the row's lock orders two
   * members racing on one partition: the later one sees the earlier one's offset. One statement
   * for all the partitions a transaction applied.
   */
  async save(
    db: SqlExecutor,
    group: string,
    topic: string,
    applied: ReadonlyArray<{ partition: number; from: bigint; next: bigint }>,
  ): Promise<void> {
    if (applied.length === 0) return;
    const rows = await db.query<unknown>(
      prepared(`with incoming (partition, next_offset, from_offset) as (
         select * from unnest($3::int[], $4::bigint[], $5::bigint[]))
       insert into ${this.table} (group_id, topic, partition, next_offset, updated_at)
       select $1, $2, partition, next_offset, now() from incoming
       on conflict (group_id, topic, partition) do update set next_offset = excluded.next_offset, updated_at = now()
       where ${this.table}.next_offset <= (select i.from_offset from incoming i where i.partition = excluded.partition)
       returning partition`),
      [
        group,
        topic,
        applied.map((a) => a.partition),
        applied.map((a) => a.next.toString()),
        applied.map((a) => a.from.toString()),
      ],
    );
    const stored = new Set(
      returnedRows<{ partition: number }>(rows).map((r) => Number(r.partition)),
    );
    const moved = applied.filter((a) => !stored.has(a.partition));
    if (moved.length > 0)
      throw new OffsetMovedError(
        `${topic}: an offset past where this transaction's records began was stored meanwhile by another consumer (${moved.map((a) => `partition ${a.partition} past ${a.from}`).join(', ')})`,
      );
  }

  /** Sets the next offset even below the stored one: a recreated topic, an operator's rewind. */
  async reset(
    db: SqlExecutor,
    group: string,
    topic: string,
    partition: number,
    nextOffset: bigint,
  ): Promise<void> {
    await db.query(
      prepared(`insert into ${this.table} (group_id, topic, partition, next_offset, updated_at) values ($1, $2, $3, $4, now())
       on conflict (group_id, topic, partition) do update set next_offset = excluded.next_offset, updated_at = now()`),
      [group, topic, partition, nextOffset.toString()],
    );
  }
}

/** The stored offset moved past where a transaction's records began: that transaction must not commit. */
export class OffsetMovedError extends Error {
  override readonly name = 'OffsetMovedError';
}

/** Include in the migrations of every service that consumes with TransactionalConsumer. */
export class ConsumerOffset1763800000200 implements MigrationInterface {
  name = 'ConsumerOffset1763800000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table consumer_offset (
        group_id text not null,
        topic text not null,
        partition integer not null,
        next_offset bigint not null,
        updated_at timestamptz not null,
        primary key (group_id, topic, partition)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table consumer_offset');
  }
}
