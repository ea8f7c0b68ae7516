import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';
import { readEvent, reasonFromFailure } from '@lienthong/contracts';
import type {
  ContractEvent,
  ContractValidator,
  DeadLetterReason,
  KafkaRecord,
  Validated,
} from '@lienthong/contracts';
import { withTrace } from '@lienthong/observability';
import { GroupCommit, isTransientDatabaseError } from '@lienthong/persistence';
import { ConsumerOffsetStore, OffsetMovedError } from './consumer-offset.store';
import { DeadLetterWriter } from './dead-letter-writer';
import type { DeadLetter } from './dead-letter-writer';
import type { EventProducer } from './event-producer';

/** A record read as valid, and where it came from. */
export interface ConsumedRecord<T> {
  event: T;
  topic: string;
  partition: number;
  offset: string;
}

/** A valid contract event and where it came from (what most consumers read). */
export type ConsumedEvent = ConsumedRecord<ContractEvent>;

/** What a handler may do besides writing in the transaction. */
export interface HandlerTools<T = ContractEvent> {
  /** Runs `work` once the transaction has committed (never if it rolls back): metrics, wake-ups. */
  afterCommit(work: () => void): void;
  /**
   * Refuses one event of the batch: it goes to the DLQ at stage `handle` with this reason, in the
   * same round as the offsets (the handler must leave no trace of it in the transaction).
   */
  reject(event: ConsumedRecord<T>, reason: HandlerRejection): void;
}

/** Why a handler refused an event (a stable code, the field and the rule; never payload text). */
export interface HandlerRejection {
  code: string;
  field: string;
  rule: string;
  message: string;
}

export interface TransactionalConsumerOptions<T = ContractEvent> {
  kafka: Kafka;
  groupId: string;
  topic: string;
  /** The contract topic whose event types are expected here, when `topic` is a renamed copy (tests). */
  contractTopic?: string;
  dataSource: DataSource;
  validator: ContractValidator;
  /**
   * Reads a record as valid or as a failure with its reason (dead-lettered). Default: a contract
   * event of `contractTopic` (or `topic`), checked by `validator`. A consumer of records that are
   * not contract events (dead letters, for one) reads them its own way.
   */
  read?: (record: KafkaRecord, topic: string) => Validated<T>;
  /** The process's producer: dead letters go through it. */
  producer: EventProducer;
  /**
   * Applies a partition's valid events, in offset order, inside the transaction that also stores
   * the offset. It may be handed the whole batch, or (isolating a poison record) one event at a
   * time: its effect must be the same.
   */
  handle: (
    events: Array<ConsumedRecord<T>>,
    tx: EntityManager,
    tools: HandlerTools<T>,
  ) => Promise<void>;
  partitionsConsumedConcurrently?: number;
  /**
   * When set (not 0), the batches of several partitions handed over together (one fetch's) share one
   * transaction, up to about this many records each: one round of statements for them all
   * instead of one per partition, and their Kafka commits together. The handler is then given events of several
   * partitions (each partition's in offset order; each event says its partition). A transaction
   * that fails is tried again per partition, as without it. Unset: one transaction per batch.
   */
  maxRecordsPerTransaction?: number;
  /**
   * kafkajs fetch sizes (defaults 10 MiB per response, 1 MiB per partition). They bound what a
   * consumer holds in memory: a response's records are slices of its buffer, and up to
   * `partitionsConsumedConcurrently` batches are being applied at once. `minBytes` and
   * `maxWaitTimeInMs` (defaults 1 byte, 5 s): how long the broker may hold a fetch to gather a
   * batch; each partition's batch is one transaction, so gathering makes fewer of them.
   */
  fetch?: {
    maxBytes?: number;
    maxBytesPerPartition?: number;
    minBytes?: number;
    maxWaitTimeInMs?: number;
  };
  /**
   * How long the group waits for a member that stopped heartbeating before its partitions move
   * (default 30 s, kafkajs' own). A SIGKILLed instance holds its partitions, and a replacement's
   * join, for this long. A heartbeat goes after every batch, so it must exceed the longest batch.
   */
  sessionTimeoutMs?: number;
  offsets?: ConsumerOffsetStore;
  /** Where dead letters and failed batches are reported (pino-like); each line carries the event's trace. */
  logger?: ConsumerLogger;
  /** Runs after the database commit and before the Kafka commit: services wake their workers here; tests inject a crash (it must not apply twice). */
  afterDatabaseCommit?: (partition: number, nextOffset: bigint) => Promise<void>;
  /** Tries of a failing batch before its records are tried one by one to find the poison (default 3). */
  maxHandleAttempts?: number;
  /** Wait before the second try; doubles after (default 200 ms). */
  retryBackoffMs?: number;
  /** Dead letters larger than this (bytes) keep their original in Postgres (default 900,000). */
  maxDeadLetterBytes?: number;
}

export interface ConsumerLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ConsumerStats {
  applied: number;
  /** Records below the stored offset: applied before a crash, redelivered, not applied again. */
  skipped: number;
  deadLettered: number;
  /** Of those, refused by the handler or poison (stage handle). */
  deadLetteredInHandling: number;
}

/** Something an operator must know about the consumed offsets (health shows it). */
export interface OffsetNotice {
  at: string;
  topic: string;
  partition: number;
  kind: 'skipped-below-stored-offset' | 'stored-offset-beyond-log-end';
  /** The next offset stored with the work. */
  storedNext: string;
  /** The batch Kafka delivered. */
  fromOffset: string;
  toOffset: string;
  highWatermark: string;
  message: string;
}

/** What readiness needs from the consumer. */
export interface ConsumerHealth {
  /** The DLQ cannot be written: consumption is stopped. */
  deadLetterFailing?: string;
  /** The database refuses work for a reason no record explains (it is down, or the schema is wrong). */
  databaseFailing?: string;
  /** The last few offset notices, newest last. */
  offsetNotices: OffsetNotice[];
}

const NOTICES_KEPT = 20;

/** One partition's batch, read and checked, as a transaction applies it. */
interface Part<T> {
  payload: EachBatchPayload;
  partition: number;
  valid: Array<ConsumedRecord<T>>;
  invalid: DeadLetter[];
  byOffset: Map<string, KafkaMessage>;
  /** The first record applied (past those skipped) and the next offset to store. */
  from: bigint;
  next: bigint;
}

/** A part waiting for the transaction it will share (maxRecordsPerTransaction). */
interface Waiting<T> {
  part: Part<T>;
  done: (committed: Array<() => void>) => void;
  failed: (err: unknown) => void;
}

/**
 * Consumes a topic in batches, partitions concurrently (order per key holds: a key lives on one
 * partition and a partition's batch is applied in order). For each batch:
 *
 * 1. Records below the offset stored with earlier work were applied already (a crash between the
 *    database commit and the Kafka commit): skipped, and said so (log, stats, health). A stored
 *    offset beyond the end of the log means the topic was recreated: it is reset, not obeyed.
 * 2. Invalid records go to `<topic>.dlq.v1` with their reason.
 * 3. ONE database transaction applies the valid events and stores the next offset. If it fails:
 *    - because of the database itself (down, restarting, schema missing): the batch is not
 *      committed and Kafka redelivers it; health says so; nothing is dead-lettered for it;
 *    - for any other reason (a value the database refuses, a mapping bug): tried again up to
 *      `maxHandleAttempts` times, then each record alone (savepoints in one transaction): the
 *      records that still fail go to the DLQ at stage `handle` with their reason, the rest commit.
 *    Records the handler refuses (HandlerTools.reject) go to the DLQ in the same round. With
 *    `maxRecordsPerTransaction`, the batches of several partitions share the transaction; one
 *    that fails is tried again per partition as above.
 * 4. Only after that commit is the offset committed to Kafka (commits of batches finishing
 *    together in one request).
 *
 * A dead letter is sent once per record, not once per retry. One that cannot be sent stops the
 * batch (health unready); nothing is committed past it.
 */
export class TransactionalConsumer<T = ContractEvent> {
  readonly stats: ConsumerStats = {
    applied: 0,
    skipped: 0,
    deadLettered: 0,
    deadLetteredInHandling: 0,
  };
  private readonly consumer: Consumer;
  private readonly offsets: ConsumerOffsetStore;
  private readonly dlq: DeadLetterWriter;
  private readonly notices: OffsetNotice[] = [];
  private databaseFailing: string | undefined;
  /** Per partition, offsets whose dead letter was sent for a batch that then failed (not re-sent). */
  private readonly sentDeadLetters = new Map<number, Set<string>>();
  /**
   * Per partition, the next offset this instance's own last transaction stored, while it has held
   * the partition since (cleared at every group join, and before every transaction). A batch that
   * starts exactly there needs no read of the stored offset: that read was one of the nine round
   * trips of an ingest batch in a row (test/bench/RESULTS.md). Should another member have stored a
   * later offset meanwhile (this one expelled without knowing), the transaction's offset write
   * finds it and rolls the batch back (ConsumerOffsetStore.save); redelivered, it is read for.
   */
  private readonly ownStored = new Map<number, bigint>();
  /**
   * The Kafka commits of batches that finish together go in one request (the first alone, those
   * finishing while it is on its way together after it): with a fetch's partitions in one
   * transaction, they all finish at once. Through a batch's own `commitOffsetsIfNecessary`, which
   * commits also while the consumer stops (kafkajs' `consumer.commitOffsets` then does nothing,
   * and the batches it waits for would be redelivered and skipped after a restart).
   */
  private readonly kafkaCommits = new GroupCommit<
    { payload: EachBatchPayload; partition: number; offset: bigint },
    void
  >(async (commits) => {
    // One batch of a partition at a time, each waiting for its commit: no partition twice here.
    await (commits[0] as (typeof commits)[number]).payload.commitOffsetsIfNecessary({
      topics: [
        {
          topic: this.options.topic,
          partitions: commits.map(({ partition, offset }) => ({
            partition,
            offset: offset.toString(),
          })),
        },
      ],
    });
    return commits.map(() => undefined);
  }, 64);
  /** Parts handed over, waiting to share a transaction (maxRecordsPerTransaction). */
  private waiting: Array<Waiting<T>> = [];
  /** Batches handed to this consumer and not handed over yet (their stored offset being read). */
  private preparing = 0;
  private startScheduled = false;

  constructor(private readonly options: TransactionalConsumerOptions<T>) {
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout,
      // Kafka's advice: at most a third of the session.
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
      ...options.fetch,
    });
    this.offsets = options.offsets ?? new ConsumerOffsetStore();
    // A join may hand this member partitions another one moved on meanwhile.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.ownStored.clear());
    this.dlq = new DeadLetterWriter({
      producer: options.producer,
      ...(options.maxDeadLetterBytes ? { maxBytes: options.maxDeadLetterBytes } : {}),
    });
  }

  health(): ConsumerHealth {
    return {
      ...(this.dlq.failing ? { deadLetterFailing: this.dlq.failing.message } : {}),
      ...(this.databaseFailing ? { databaseFailing: this.databaseFailing } : {}),
      offsetNotices: [...this.notices],
    };
  }

  async start(): Promise<void> {
    await this.options.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private notice(n: Omit<OffsetNotice, 'at'>): void {
    const notice = { at: new Date().toISOString(), ...n };
    this.notices.push(notice);
    if (this.notices.length > NOTICES_KEPT) this.notices.shift();
    const { message, ...fields } = notice;
    if (n.kind === 'stored-offset-beyond-log-end') this.options.logger?.error(fields, message);
    else this.options.logger?.warn(fields, message);
  }

  /**
   * The next offset stored with earlier work, unless it is past the end of the log: no record at
   * or past it exists, so this is another log (the topic was deleted and recreated). Obeying it
   * would skip every new record; dedupe by source + id and per-entity sequences keep a real replay
   * harmless, so it is reset to this batch, and said so.
   */
  private async storedOffset(batch: EachBatchPayload['batch']): Promise<bigint | undefined> {
    const { dataSource, groupId } = this.options;
    const { topic, partition } = batch;
    const stored = await this.offsets.next(dataSource, groupId, topic, partition);
    if (stored === undefined || stored <= BigInt(batch.highWatermark)) return stored;
    const first = batch.firstOffset() ?? '0';
    this.notice({
      kind: 'stored-offset-beyond-log-end',
      topic,
      partition,
      storedNext: stored.toString(),
      fromOffset: first,
      toOffset: batch.lastOffset(),
      highWatermark: batch.highWatermark,
      message:
        'the stored offset is past the end of the log (topic recreated?): it is reset and these records are applied',
    });
    await this.offsets.reset(dataSource, groupId, topic, partition, BigInt(first));
    return undefined;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    if (!this.options.maxRecordsPerTransaction) return this.consume(payload, undefined);
    // Sharing: a transaction starts once every batch being prepared (its stored offset read, its
    // records checked) is handed over, so that a fetch's batches go together.
    this.preparing += 1;
    let handedOver = false;
    const handOver = () => {
      if (handedOver) return;
      handedOver = true;
      this.preparing -= 1;
      this.startSharedSoon();
    };
    try {
      await this.consume(payload, handOver);
    } finally {
      handOver();
    }
  }

  /** A batch: its records checked, applied (shared when `handOver` is given), both offsets committed. */
  private async consume(
    payload: EachBatchPayload,
    handOver: (() => void) | undefined,
  ): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const { validator } = this.options;
    const read =
      this.options.read ??
      ((record: KafkaRecord, t: string) =>
        readEvent(record, this.options.contractTopic ?? t, validator) as Validated<T>);
    const first = batch.messages[0] as KafkaMessage;
    const last = batch.messages[batch.messages.length - 1] as KafkaMessage;
    const nextOffset = BigInt(last.offset) + 1n;

    let stored: bigint | undefined = this.ownStored.get(partition);
    try {
      if (stored !== BigInt(first.offset)) stored = await this.storedOffset(batch);
    } catch (err) {
      this.failed(err, topic, partition);
      throw err;
    }
    const fresh = batch.messages.filter((m) => stored === undefined || BigInt(m.offset) >= stored);
    const skipped = batch.messages.length - fresh.length;
    if (skipped > 0) {
      this.stats.skipped += skipped;
      this.notice({
        kind: 'skipped-below-stored-offset',
        topic,
        partition,
        storedNext: String(stored),
        fromOffset: first.offset,
        toOffset: (batch.messages[skipped - 1] as KafkaMessage).offset,
        highWatermark: batch.highWatermark,
        message: `${skipped} records below the stored offset were applied before and are skipped; to apply them again on purpose, rewind (docs/failure-model.md)`,
      });
    }

    const valid: Array<ConsumedRecord<T>> = [];
    const invalid: DeadLetter[] = [];
    const byOffset = new Map<string, KafkaMessage>();
    const now = new Date();
    for (const message of fresh) {
      byOffset.set(message.offset, message);
      const got = read({ key: message.key, value: message.value, headers: message.headers }, topic);
      if (got.ok) valid.push({ event: got.value, topic, partition, offset: message.offset });
      else
        invalid.push(this.letter(message, partition, reasonFromFailure(got.failure), 1, now, now));
    }

    if (fresh.length > 0) {
      this.ownStored.delete(partition);
      const part: Part<T> = {
        payload,
        partition,
        valid,
        invalid,
        byOffset,
        from: BigInt((fresh[0] as KafkaMessage).offset),
        next: nextOffset,
      };
      const committed = handOver ? await this.together(part, handOver) : await this.apply(part);
      this.ownStored.set(partition, nextOffset);
      for (const work of committed) work();
    }
    await this.options.afterDatabaseCommit?.(partition, nextOffset);
    payload.resolveOffset(last.offset);
    await this.kafkaCommits.submit({ payload, partition, offset: nextOffset });
    this.sentDeadLetters.delete(partition);
    await payload.heartbeat();
  }

  /**
   * Applies a part in a transaction shared with the other parts handed over meanwhile (kafkajs
   * hands a fetch's batches to its workers at once; the transaction waits until none is still
   * being prepared), up to maxRecordsPerTransaction records each. If a shared transaction fails,
   * each of its parts is applied on its own (apply: retries, a poison record isolated, a moved
   * offset), except when the database itself or the DLQ fails: that fails them all, as it would
   * each.
   */
  private together(part: Part<T>, handOver: () => void): Promise<Array<() => void>> {
    return new Promise((done, failed) => {
      this.waiting.push({ part, done, failed });
      handOver();
    });
  }

  /** Starts the waiting parts' transactions on the next turn, if no batch is still being prepared. */
  private startSharedSoon(): void {
    if (this.startScheduled || this.waiting.length === 0) return;
    this.startScheduled = true;
    setImmediate(() => {
      this.startScheduled = false;
      // Otherwise the last batch being prepared starts them when it is handed over.
      if (this.preparing === 0) this.startShared();
    });
  }

  private startShared(): void {
    const limit = this.options.maxRecordsPerTransaction ?? 0;
    const all = this.waiting;
    this.waiting = [];
    while (all.length > 0) {
      const group: Array<Waiting<T>> = [];
      let records = 0;
      while (all.length > 0 && (group.length === 0 || records < limit)) {
        const next = all.shift() as Waiting<T>;
        group.push(next);
        records += next.part.valid.length + next.part.invalid.length;
      }
      void this.applyShared(group);
    }
  }

  private async applyShared(group: Array<Waiting<T>>): Promise<void> {
    if (group.length === 1) {
      const [only] = group as [Waiting<T>];
      await this.apply(only.part).then(only.done, only.failed);
      return;
    }
    const parts = group.map((w) => w.part);
    try {
      const committed = await this.transaction(parts, 'batch');
      // Each part's after-commit work runs with its own batch (the first one's carries them all).
      group.forEach((w, i) => w.done(i === 0 ? committed : []));
      return;
    } catch (err) {
      if (this.dlq.failing || isTransientDatabaseError(err)) {
        const { topic } = this.options;
        this.failed(err, topic, parts.map((p) => p.partition).join(','));
        for (const w of group) w.failed(err);
        return;
      }
      this.options.logger?.warn(
        {
          topic: this.options.topic,
          partitions: parts.map((p) => p.partition),
          err: describe(err),
        },
        'a transaction shared by several partitions failed; each is applied on its own',
      );
    }
    await Promise.all(group.map((w) => this.apply(w.part).then(w.done, w.failed)));
  }

  private letter(
    message: KafkaMessage,
    partition: number,
    reason: DeadLetterReason,
    attempts: number,
    firstFailureAt: Date,
    lastFailureAt: Date,
  ): DeadLetter {
    return {
      original: { key: message.key, value: message.value, headers: message.headers },
      reason,
      context: {
        sourceTopic: this.options.topic,
        partition,
        offset: message.offset,
        consumerGroup: this.options.groupId,
        attempts,
        firstFailureAt,
        lastFailureAt,
      },
    };
  }

  /**
   * The transaction of a batch, with its retries and, for a poison record, its isolation. Returns
   * the after-commit work of what committed.
   */
  private async apply(part: Part<T>): Promise<Array<() => void>> {
    const { payload } = part;
    const { topic, partition } = payload.batch;
    const maxAttempts = this.options.maxHandleAttempts ?? 3;
    const firstFailureAt = new Date();
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      try {
        return await this.transaction([part], 'batch');
      } catch (err) {
        lastError = err;
        if (err instanceof OffsetMovedError) throw this.moved(err, topic, partition);
        if (this.dlq.failing || isTransientDatabaseError(err)) {
          this.failed(err, topic, partition);
          throw err;
        }
        this.options.logger?.warn(
          { topic, partition, attempt, err: describe(err) },
          'batch failed; trying again',
        );
        if (attempt < maxAttempts) {
          await sleep((this.options.retryBackoffMs ?? 200) * 2 ** (attempt - 1));
          await payload.heartbeat();
          if (!payload.isRunning() || payload.isStale()) throw err;
        }
      }
    }
    this.options.logger?.error(
      { topic, partition, err: describe(lastError) },
      'batch keeps failing: applying its records one by one to isolate the poison',
    );
    try {
      return await this.transaction([part], { attempts: maxAttempts, firstFailureAt });
    } catch (err) {
      if (err instanceof OffsetMovedError) throw this.moved(err, topic, partition);
      this.failed(err, topic, partition);
      throw err;
    }
  }

  /**
   * One database transaction: the handler's work (the whole batch, or record by record under
   * savepoints when isolating), the dead letters of this round, the offset.
   */
  private async transaction(
    parts: Array<Part<T>>,
    mode: 'batch' | { attempts: number; firstFailureAt: Date },
  ): Promise<Array<() => void>> {
    const { dataSource, groupId, topic: sourceTopic } = this.options;
    const committed: Array<() => void> = [];
    const partOf = new Map(parts.map((p) => [p.partition, p]));
    const message = (event: ConsumedRecord<T>) =>
      partOf.get(event.partition)?.byOffset.get(event.offset) as KafkaMessage;
    const invalid = parts.flatMap((p) => p.invalid);
    const letters: DeadLetter[] = [...invalid];
    let applied = 0;
    await dataSource.transaction(async (tx) => {
      const rejected: Array<{ event: ConsumedRecord<T>; reason: HandlerRejection }> = [];
      const run = async (events: Array<ConsumedRecord<T>>) => {
        const work: Array<() => void> = [];
        const refusals: typeof rejected = [];
        await this.options.handle(events, tx, {
          afterCommit: (w) => work.push(w),
          reject: (event, reason) => refusals.push({ event, reason }),
        });
        committed.push(...work);
        rejected.push(...refusals);
        applied += events.length - refusals.length;
      };
      const valid = parts.flatMap((p) => p.valid);
      if (mode === 'batch') {
        if (valid.length > 0) await run(valid);
      } else {
        for (const event of valid) {
          await tx.query('savepoint lienthong_record');
          try {
            await run([event]);
            await tx.query('release savepoint lienthong_record');
          } catch (err) {
            if (isTransientDatabaseError(err)) throw err;
            await tx.query('rollback to savepoint lienthong_record');
            letters.push(
              this.letter(
                message(event),
                event.partition,
                {
                  stage: 'handle',
                  code: 'HANDLER_FAILED',
                  message: `HANDLER_FAILED: handling failed ${mode.attempts} times: ${describe(err)}`,
                  rule: 'handled-within-attempts',
                },
                mode.attempts,
                mode.firstFailureAt,
                new Date(),
              ),
            );
          }
        }
      }
      const now = new Date();
      for (const { event, reason } of rejected) {
        letters.push(
          this.letter(message(event), event.partition, { stage: 'handle', ...reason }, 1, now, now),
        );
      }
      const sentOf = (partition: number) => {
        const sent = this.sentDeadLetters.get(partition) ?? new Set<string>();
        this.sentDeadLetters.set(partition, sent);
        return sent;
      };
      const unsent = letters.filter((l) => !sentOf(l.context.partition).has(l.context.offset));
      await this.dlq.send(sourceTopic, unsent, tx);
      for (const l of unsent) sentOf(l.context.partition).add(l.context.offset);
      await this.offsets.save(
        tx,
        groupId,
        sourceTopic,
        parts.map((p) => ({ partition: p.partition, from: p.from, next: p.next })),
      );
    });
    this.databaseFailing = undefined;
    this.stats.applied += applied;
    this.stats.deadLettered += letters.length;
    this.stats.deadLetteredInHandling += letters.length - invalid.length;
    this.logDeadLetters(letters);
    return committed;
  }

  /** The batch was rolled back because another consumer stored a later offset: redelivered, it is read for. */
  private moved(err: OffsetMovedError, topic: string, partition: number): OffsetMovedError {
    this.options.logger?.warn(
      { topic, partition, err: err.message },
      'another consumer stored a later offset for this partition: the batch is rolled back, and its records are checked against that offset when redelivered',
    );
    return err;
  }

  private failed(err: unknown, topic: string, partition: number | string): void {
    if (this.dlq.failing) {
      this.options.logger?.error(
        { topic, partition, err: describe(err) },
        'the dead-letter queue cannot be written: consumption is stopped until it can',
      );
      return;
    }
    this.databaseFailing = describe(err);
    this.options.logger?.error(
      { topic, partition, err: describe(err) },
      'the database refused the batch for a reason no record explains; it will be redelivered',
    );
  }

  private logDeadLetters(letters: DeadLetter[]): void {
    for (const { original, reason, context } of letters) {
      const headers = original.headers as Record<string, Buffer | string | undefined> | undefined;
      const trace = headers?.ce_traceparent?.toString();
      withTrace(trace, () =>
        this.options.logger?.warn(
          {
            topic: context.sourceTopic,
            partition: context.partition,
            offset: context.offset,
            stage: reason.stage,
            code: reason.code,
            field: reason.field,
            rule: reason.rule,
          },
          'event sent to the dead-letter queue',
        ),
      );
    }
  }
}

/**
 * An error as one line for logs and DLQ headers: its class and SQLSTATE, and a message with any
 * quoted text removed (PostgreSQL and JSON parsers quote the offending value, which may be
 * personal data).
 */
export function describe(err: unknown): string {
  const e = err as {
    name?: string;
    code?: string | number;
    driverError?: { code?: string | number };
    message?: unknown;
  };
  const code = e?.driverError?.code ?? e?.code;
  const message = (typeof e?.message === 'string' ? e.message : String(err))
    .replace(/"[^"]*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\b\d{6,}\b/g, '…')
    .slice(0, 300);
  return `${e?.name ?? 'Error'}${code ? ` ${String(code)}` : ''}: ${message}`;
}
