import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { CallOutcome, PortalErrorCode } from './portal-call.error';

/**
 * One HTTP exchange with a portal, kept for audit and diagnosis. Bodies are kept only as SHA-256
 * digests and portal messages not at all: the record never holds personal data in clear.
 */
export interface ExchangeRecord {
  target: string;
  operation: string;
  startedAt: Date;
  endedAt: Date;
  httpStatus?: number;
  portalCode?: string;
  outcome: CallOutcome;
  errorCode?: PortalErrorCode;
  attempt: number;
  correlationId: string;
  requestSha256?: string;
  responseSha256?: string;
}

export function sha256(body: string | Buffer | undefined): string | undefined {
  return body === undefined ? undefined : createHash('sha256').update(body).digest('hex');
}

/** Where exchange records go. A port: services write to Postgres, unit tests to memory. */
export abstract class ExchangeRecorder {
  /** Records that could not be kept (docs/architecture.md promises one per call: this must stay 0). */
  lost = 0;
  private readonly lostListeners: Array<(n: number) => void> = [];
  private readonly recordListeners: Array<(exchange: ExchangeRecord) => void> = [];
  abstract record(exchange: ExchangeRecord): void;
  /** Called with every record as it is taken, before it is written (telemetry listens). */
  onRecord(listener: (exchange: ExchangeRecord) => void): void {
    this.recordListeners.push(listener);
  }
  protected announce(exchange: ExchangeRecord): void {
    for (const l of this.recordListeners) l(exchange);
  }
  /** Writes what is buffered; call before shutdown. */
  abstract flush(): Promise<void>;
  /** Called with the count each time records are lost: metrics and health listen. */
  onLost(listener: (n: number) => void): void {
    this.lostListeners.push(listener);
  }
  protected reportLost(n: number): void {
    this.lost += n;
    for (const l of this.lostListeners) l(n);
  }
}

export class InMemoryExchangeRecorder extends ExchangeRecorder {
  readonly records: ExchangeRecord[] = [];
  record(exchange: ExchangeRecord): void {
    this.announce(exchange);
    this.records.push(exchange);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

const COLUMNS = [
  'target',
  'operation',
  'started_at',
  'ended_at',
  'duration_ms',
  'http_status',
  'portal_code',
  'outcome',
  'error_code',
  'attempt',
  'correlation_id',
  'request_sha256',
  'response_sha256',
];

/**
 * Buffers records and writes them in multi-row inserts (every `flushMs` or `maxBuffer` rows), so
 * a portal call never waits on the audit write. A failed write is reported and kept for the next
 * round, never thrown into the call path. Only if the buffer outgrows `maxBuffer * 50` (a long
 * database outage) are records lost, and then each one is counted (`lost`, the
 * lienthong_exchange_records_lost_total metric, health), never silently.
 */
export class PostgresExchangeRecorder extends ExchangeRecorder {
  private buffer: ExchangeRecord[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** Whether the last write failed (health shows it). */
  failing = false;

  constructor(
    private readonly pool: Pool,
    private readonly table: string,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly flushMs = 200,
    private readonly maxBuffer = 200,
  ) {
    super();
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  record(exchange: ExchangeRecord): void {
    this.announce(exchange);
    if (this.buffer.length >= this.maxBuffer * 50) {
      this.reportLost(1);
      return;
    }
    this.buffer.push(exchange);
    if (this.buffer.length >= this.maxBuffer) void this.flush();
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /**
   * Retention: deletes records older than `days`, a bounded batch at a time (a long backlog of
   * old rows never becomes one huge delete). Returns how many went.
   */
  async purgeOlderThan(days: number, batch = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.pool.query(
        `delete from ${this.table} where id in (
           select id from ${this.table} where started_at < now() - make_interval(days => $1) order by id limit $2)`,
        [days, batch],
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < batch) return total;
    }
  }

  /** Records waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    // What a database outage kept from being written is lost now: counted, not silent.
    if (this.buffer.length > 0) {
      this.onError(new Error(`${this.buffer.length} exchange records could not be written`));
      this.reportLost(this.buffer.splice(0).length);
    }
  }

  private async write(): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, this.maxBuffer);
    const values: unknown[] = [];
    const rows = batch.map((r, i) => {
      values.push(
        r.target,
        r.operation,
        r.startedAt,
        r.endedAt,
        r.endedAt.getTime() - r.startedAt.getTime(),
        r.httpStatus ?? null,
        r.portalCode ?? null,
        r.outcome,
        r.errorCode ?? null,
        r.attempt,
        r.correlationId,
        r.requestSha256 ?? null,
        r.responseSha256 ?? null,
      );
      return `(${COLUMNS.map((_, j) => `$${i * COLUMNS.length + j + 1}`).join(',')})`;
    });
    try {
      await this.pool.query(
        `insert into ${this.table} (${COLUMNS.join(',')}) values ${rows.join(',')}`,
        values,
      );
      this.failing = false;
    } catch (err) {
      this.buffer.unshift(...batch);
      this.failing = true;
      this.onError(err);
      return;
    }
    if (this.buffer.length >= this.maxBuffer) await this.write();
  }
}

/** The exchange table; include this migration in the migrations of every service that calls a portal. */
export class PortalExchange1763800000100 implements MigrationInterface {
  name = 'PortalExchange1763800000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table portal_exchange (
        id bigserial primary key,
        target text not null,
        operation text not null,
        started_at timestamptz not null,
        ended_at timestamptz not null,
        duration_ms integer not null,
        http_status integer,
        portal_code text,
        outcome text not null,
        error_code text,
        attempt integer not null,
        correlation_id text not null,
        request_sha256 char(64),
        response_sha256 char(64)
      )`);
    await q.query('create index portal_exchange_correlation on portal_exchange (correlation_id)');
    await q.query('create index portal_exchange_started on portal_exchange (started_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop table portal_exchange');
  }
}
