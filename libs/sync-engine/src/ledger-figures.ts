import type { DataSource } from 'typeorm';

/** What the ledger says about the backlog: all instances of the service share it. */
export interface LedgerFigures {
  backlog: {
    PENDING: number;
    RETRYING: number;
    REJECTED: number;
    /** Two-phase targets: accepted by the portal, its answer not in yet. */
    AWAITING_RESULT: number;
    SUPPLEMENT_REQUESTED: number;
  };
  /** How long the oldest accepted submission has waited for its answer; null when none waits. */
  oldestAwaitingSeconds: number | null;
  /** Age of the oldest change not yet at the portal (PENDING or RETRYING); null when none. */
  oldestPendingSeconds: number | null;
  outboxUnpublished: number;
  /** Outbox rows set aside because they could not be published. */
  outboxFailed: number;
  /**
   * Parts the portal took after being sent more than once with an unknown outcome: the portal may
   * hold them twice (it cannot be asked: DVCQG returns no steps on lookup).
   */
  partsPossiblyDuplicated: number;
}

/**
 * Every ledger figure in one statement, each part on unsynced rows only: every predicate here
 * has a partial index (the ledger's int test EXPLAINs it on a grown ledger and fails on a table
 * read whole), so its cost follows the backlog, not the ledger's size.
 */
export const LEDGER_FIGURES_SQL = `
  select state as kind, count(*)::text n from sync_entity where state <> 'SYNCED' group by state
  union all
  select 'oldest', extract(epoch from now() - min(pending_since))::text from sync_entity where state in ('PENDING', 'RETRYING')
  union all
  select 'awaiting', extract(epoch from now() - min(awaiting_since))::text from sync_entity where state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED')
  union all
  select 'unpublished', coalesce(sum(statuses), 0)::text from outbox where published_at is null and failed_reason is null
  union all
  select 'failed', count(*)::text from outbox where failed_reason is not null and published_at is null
  union all
  select 'resent', count(*)::text from sync_entity_part where sends > 1 and pushed_at is not null`;

/**
 * Reads the ledger figures that metrics and health reports show, in one statement that only
 * touches unsynced rows (partial indexes), and at most once per `refreshMs` however often it is
 * asked: the SYNCED majority of the ledger is never counted (sync.status carries every sync).
 */
export class LedgerFiguresReader {
  private last: Promise<LedgerFigures> | undefined;
  private readAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly refreshMs = 5000,
  ) {}

  read(): Promise<LedgerFigures> {
    const now = Date.now();
    if (this.last && now - this.readAt < this.refreshMs) return this.last;
    this.readAt = now;
    this.last = this.dataSource
      .query<Array<{ kind: string; n: string | null }>>(LEDGER_FIGURES_SQL)
      .then((rows) => {
        const raw = (k: string) => rows.find((r) => r.kind === k)?.n ?? null;
        const get = (k: string) => Number(raw(k) ?? 0);
        const age = (k: string) => {
          const v = raw(k);
          return v === null ? null : Math.max(0, Number(v));
        };
        return {
          backlog: {
            PENDING: get('PENDING'),
            RETRYING: get('RETRYING'),
            REJECTED: get('REJECTED'),
            AWAITING_RESULT: get('AWAITING_RESULT'),
            SUPPLEMENT_REQUESTED: get('SUPPLEMENT_REQUESTED'),
          },
          oldestPendingSeconds: age('oldest'),
          oldestAwaitingSeconds: age('awaiting'),
          outboxUnpublished: get('unpublished'),
          outboxFailed: get('failed'),
          partsPossiblyDuplicated: get('resent'),
        };
      })
      .catch((err: unknown) => {
        this.last = undefined;
        throw err;
      });
    return this.last;
  }
}
