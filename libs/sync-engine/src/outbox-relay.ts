import type { DataSource, QueryRunner } from 'typeorm';
import {
  ContractValidator,
  EVENT_TYPES,
  TOPICS,
  describeFailure,
  encodeEvent,
  encodeSibling,
} from '@lienthong/contracts';
import type { OpsCommandResult, SyncStatusV2 } from '@lienthong/contracts';
import { prepared, returnedRows } from '@lienthong/persistence';
import { asV1 } from './status-v1';
import { RoundLoop, Wakeup } from './wakeup';

/** The producer the relay needs (libs/messaging's EventProducer is one). */
export interface OutboxProducer {
  send(
    topic: string,
    messages: Array<{ key: string; value: Buffer; headers: Record<string, string> }>,
  ): Promise<unknown>;
  /** Several topics' messages in one produce request (libs/messaging's EventProducer has it). */
  sendBatch?(
    batches: Array<{
      topic: string;
      messages: Array<{ key: string; value: Buffer; headers: Record<string, string> }>;
    }>,
  ): Promise<unknown>;
}

/**
 * Sends each topic's messages, in one produce request when the producer can: the broker's cost is
 * mostly per request (0.17 ms of Kafka's CPU for a one-record request, 0.33 ms for fifty records,
 * measured on the local stack), and a relay round publishes on two topics (v2 and v1).
 */
export async function sendTopics(
  producer: OutboxProducer,
  byTopic: Map<string, Array<{ key: string; value: Buffer; headers: Record<string, string> }>>,
): Promise<void> {
  if (byTopic.size === 0) return;
  if (producer.sendBatch && byTopic.size > 1) {
    await producer.sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    return;
  }
  for (const [topic, messages] of byTopic) await producer.send(topic, messages);
}

export interface OutboxRelayOptions {
  dataSource: DataSource;
  producer: OutboxProducer;
  /** The publishing service, e.g. dossier-sync: ce_source /lienthong/<service>, and part of every event id. */
  service: string;
  batchSize: number;
  idleMs: number;
  /** After a wake-up, how long a round waits for more rows to take with it (RoundLoop). */
  lingerMs?: number;
  /** Tests publish to their own topic names. */
  topicFor?: (topic: string) => string;
  /** Where the v2 encoding of every status goes (default sync.status.v2; tests use a copy). */
  v2Topic?: string;
  /** Where answers to operator commands go (default ops.command-results.v1; tests use a copy). */
  resultsTopic?: string;
  onError?: (err: unknown) => void;
  /** A row that breaks its contract was set aside (failed_reason) instead of blocking the rows behind it. */
  onSetAside?: (id: string, reason: string) => void;
  /** Cuts the idle wait short when this process just wrote outbox rows (see Wakeup). */
  wakeup?: Wakeup;
  /** The process's validator (compiling every schema is start-up work worth doing once). */
  validator?: ContractValidator;
}

/**
 * An outbox row: a sync status (topic sync.status.v1: published on v2, and on v1 when v1 can say
 * it), a batch of them (a JSON array, written by one transaction: see writeSyncStatuses), or an
 * answer to an operator command (topic ops.command-results.v1).
 */
type OutboxRow =
  | {
      id: string;
      topic: typeof TOPICS.syncStatus;
      message_key: string;
      payload: SyncStatusV2 | SyncStatusV2[];
    }
  | {
      id: string;
      topic: typeof TOPICS.opsCommandResults;
      message_key: string;
      payload: OpsCommandResult;
    };

type Encoded = ReturnType<typeof encodeEvent>;

/**
 * Publish (docs/architecture.md, step 3): turns outbox rows into sync.status CloudEvents, in id
 * order, and marks them published after Kafka acknowledged them. Every status goes out on
 * sync.status.v2 (`<service>-outbox-v2-<id>`) and, when v1 can express it, on sync.status.v1
 * (`<service>-outbox-<id>`), until every reader moved to v2. A crash in between publishes them
 * again with the same event ids, so consumers can drop the repeat.
 *
 * One relay publishes at a time: the one holding a session-level advisory lock on its own
 * connection (released when that connection ends), which keeps per-entity order across
 * instances. No transaction is held open while Kafka is slow: read, send, then mark. A row that
 * breaks the sync.status contract (a bug, a hand edit) is set aside with its reason and the rows
 * behind it go on.
 */
export class OutboxRelay {
  published = 0;
  setAside = 0;
  private readonly loop: RoundLoop;
  private readonly validator: ContractValidator;
  private session: QueryRunner | undefined;
  /**
   * Rows Kafka acknowledged whose published mark the loop's next round writes, in the statement
   * that reads that round's rows: one round trip a round instead of two (see round).
   */
  private unmarked: string[] = [];

  constructor(private readonly options: OutboxRelayOptions) {
    this.loop = new RoundLoop(
      () => this.round(),
      options.wakeup ?? new Wakeup(),
      options.idleMs,
      options.onError ??
        ((e: unknown) => process.stderr.write(`outbox relay round failed: ${String(e)}\n`)),
      options.lingerMs ?? 0,
    );
    this.validator = options.validator ?? new ContractValidator();
  }

  /** The leader's own connection, or undefined when another instance leads. */
  private async lead(): Promise<QueryRunner | undefined> {
    if (this.session) return this.session;
    const runner = this.options.dataSource.createQueryRunner();
    await runner.connect();
    try {
      // Advisory locks are database-wide: the schema is part of the key, so services (or test
      // worlds) that own other schemas of the same database each have their own relay leader.
      const [lock] = (await runner.query(
        `select pg_try_advisory_lock(hashtext($1 || ':' || current_schema())) locked`,
        [`lienthong:outbox:${this.options.service}`],
      )) as Array<{ locked: boolean }>;
      if (lock?.locked) {
        // Published rows leave dead entries in the partial index of unpublished rows until vacuum
        // comes. A bitmap scan (what the planner picks on a young table) visits every one of them
        // on every round (10 ms with 60,000 published rows, measured); an index scan in id order
        // marks them dead as it passes, so later rounds skip them. Reset on resign: the
        // connection goes back to the pool.
        await runner.query('set enable_bitmapscan = off');
        this.session = runner;
        return runner;
      }
    } catch (err) {
      await runner.release();
      throw err;
    }
    await runner.release();
    return undefined;
  }

  private async resign(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    await session
      .query('reset enable_bitmapscan; select pg_advisory_unlock_all()')
      .catch(() => undefined)
      .finally(() => session.release().catch(() => undefined));
  }

  /**
   * Publishes a round and marks its rows published before it returns (tests, tools, the last
   * rounds of a graceful stop); how many rows it published (set aside included).
   */
  async runOnce(): Promise<number> {
    const { rows } = await this.round();
    await this.markPublished();
    return rows;
  }

  /** Writes the published mark of rows Kafka acknowledged, if a round left some. */
  private async markPublished(): Promise<void> {
    const session = this.session;
    if (this.unmarked.length === 0 || !session) return;
    await session.query(
      prepared('update outbox set published_at = now() where id = any($1::bigint[])'),
      [this.unmarked],
    );
    this.unmarked = [];
  }

  /**
   * One round, and whether more rows may be waiting: only when it took a full batch. Fewer
   * statuses than the batch means every unpublished row was taken (each row holds at least one).
   * The rows the previous round published are marked by this round's read (`unmarked`), so a
   * round is one statement and a produce request; the read skips them, since it does not see its
   * own update. Until that mark a crash publishes them again, under the same event ids (as a
   * crash between the produce and its mark always could): the loop's next round comes within
   * the idle poll, and a graceful stop marks them (runOnce).
   */
  private async round(): Promise<{ rows: number; more: boolean }> {
    const { producer, batchSize } = this.options;
    const session = await this.lead();
    if (!session) return { rows: 0, more: false };
    try {
      // Rows in id order until about batchSize statuses (a batch row counts its statuses; the
      // first row is taken whatever its size). The cut is made on ids and counts alone: only the
      // rows taken have their payload read (a batch row's is large and stored out of line).
      const rows = (await session.query(
        prepared(`with marked as (
            update outbox set published_at = now() where id = any($2::bigint[])
          )
          select o.id, o.topic, o.message_key, o.payload from outbox o
          where o.id in (
            select id from (
              select id, statuses, sum(statuses) over (order by id) as upto
                from (select id, statuses from outbox
                       where published_at is null and failed_reason is null
                         and id <> all($2::bigint[])
                       order by id limit $1) u) r
             where upto - statuses < $1)
          order by o.id`),
        [batchSize, this.unmarked],
      )) as OutboxRow[];
      this.unmarked = [];
      if (rows.length === 0) return { rows: 0, more: false };
      let taken = 0;
      const byTopic = new Map<string, Encoded[]>();
      const sendable: string[] = [];
      let statuses = 0;
      for (const row of rows) {
        taken += this.statusCount(row);
        const { messages, failures } = this.encodeRow(row);
        for (const [topic, message] of messages) {
          const group = byTopic.get(topic) ?? [];
          group.push(message);
          byTopic.set(topic, group);
        }
        statuses += this.statusCount(row) - failures.length;
        if (failures.length === 0) {
          sendable.push(row.id);
          continue;
        }
        // Set aside with the reason: a batch row's other statuses are published all the same
        // (published again, under the same ids, only if an operator clears the reason).
        const reason = failures.join('; ').slice(0, 1000);
        await session.query('update outbox set failed_reason = $2 where id = $1', [row.id, reason]);
        this.setAside += failures.length;
        this.options.onSetAside?.(row.id, reason);
      }
      await sendTopics(producer, byTopic);
      this.unmarked = sendable;
      this.published += statuses;
      return { rows: rows.length, more: taken >= batchSize };
    } catch (err) {
      // Our connection may be gone (and the lock with it): lead again next round, or let another.
      await this.resign();
      throw err;
    }
  }

  /** How many statuses (or command answers) a row holds. */
  private statusCount(row: OutboxRow): number {
    return Array.isArray(row.payload) ? row.payload.length : 1;
  }

  /**
   * A row's CloudEvents and their topics, and why any of its statuses cannot be published. A
   * status of a batch row is `<row id>.<n>` (1-based) in its event ids and keyed by its entity.
   */
  private encodeRow(row: OutboxRow): { messages: Array<[string, Encoded]>; failures: string[] } {
    const one = (encoded: Array<[string, Encoded]> | string) =>
      typeof encoded === 'string'
        ? { messages: [], failures: [encoded] }
        : { messages: encoded, failures: [] };
    if (row.topic === TOPICS.opsCommandResults) return one(this.encodeResult(row.id, row.payload));
    if (!Array.isArray(row.payload)) return one(this.encode(row.id, row.message_key, row.payload));
    const messages: Array<[string, Encoded]> = [];
    const failures: string[] = [];
    row.payload.forEach((status, i) => {
      const key = `${status?.entity?.domain}:${status?.entity?.key}`;
      const encoded = this.encode(`${row.id}.${i + 1}`, key, status);
      if (typeof encoded === 'string') failures.push(`status ${i + 1}: ${encoded}`);
      else messages.push(...encoded);
    });
    return { messages, failures };
  }

  /** The CloudEvents of a status and their topics (v2, and v1 when it can say it), or why it cannot be published. */
  private encode(id: string, key: string, status: SyncStatusV2): Array<[string, Encoded]> | string {
    const valid = this.validator.validate(EVENT_TYPES.SyncStatusV2, status);
    if (!valid.ok) return describeFailure(valid.failure).slice(0, 1000);
    try {
      const v2 = encodeEvent(EVENT_TYPES.SyncStatusV2, status, {
        source: `/lienthong/${this.options.service}`,
        subject: key,
        time: status.occurredAt,
        id: `${this.options.service}-outbox-v2-${id}`,
      });
      const out: Array<[string, Encoded]> = [[this.options.v2Topic ?? TOPICS.syncStatusV2, v2]];
      // Valid as v2, so its v1 form is valid as v1 (status-v1.ts), and its attributes are v2's:
      // neither is checked a second time.
      const v1 = asV1(status);
      if (v1)
        out.push([
          this.options.topicFor?.(TOPICS.syncStatus) ?? TOPICS.syncStatus,
          encodeSibling(
            v2,
            EVENT_TYPES.SyncStatus,
            `${this.options.service}-outbox-${id}`,
            // The same object: the same JSON, already serialised for v2.
            v1 === status ? undefined : v1,
          ),
        ]);
      return out;
    } catch (err) {
      return `ENCODE_FAILED: ${err instanceof Error ? err.message : String(err)}`.slice(0, 1000);
    }
  }

  private encodeResult(id: string, result: OpsCommandResult): Array<[string, Encoded]> | string {
    const valid = this.validator.validate(EVENT_TYPES.OpsCommandResult, result);
    if (!valid.ok) return describeFailure(valid.failure).slice(0, 1000);
    return [
      [
        this.options.resultsTopic ?? TOPICS.opsCommandResults,
        encodeEvent(EVENT_TYPES.OpsCommandResult, result, {
          source: `/lienthong/${this.options.service}`,
          subject: result.commandId,
          time: result.answeredAt,
          id: `${this.options.service}-outbox-${id}`,
        }),
      ],
    ];
  }

  /** Retention: published rows older than `hours` go, a bounded batch at a time. */
  async purgePublished(hours: number, batch = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const rows: unknown = await this.options.dataSource.query(
        `delete from outbox where id in (
           select id from outbox where published_at < now() - make_interval(hours => $1) order by id limit $2)
         returning 1`,
        [hours, batch],
      );
      const n = returnedRows(rows).length;
      total += n;
      if (n < batch) return total;
    }
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the loop; `runOnce` still works (a final flush), then `close` gives up the lead. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  async close(): Promise<void> {
    await this.stop();
    // What the last round sent is marked before the lead goes (else the next leader resends it).
    await this.markPublished().catch((err: unknown) => this.options.onError?.(err));
    await this.resign();
  }
}
