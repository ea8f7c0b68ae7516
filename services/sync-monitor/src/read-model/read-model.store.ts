import { createHash } from 'node:crypto';
import type {
  CommuneIndicators,
  DeadLetterSeen,
  OpsCommandResult,
  PortalExchange,
  ReconcileProgressV1,
  SyncHealthV2,
  SyncStatusV2,
} from '@lienthong/contracts';
import type { SqlExecutor } from '@lienthong/messaging';
import { maskText } from '@lienthong/observability';
import { jsonList, returnedRows } from '@lienthong/persistence';
import { foldStatus, timelineDetail } from './entity-state';
import type { EntityState } from './entity-state';

/** A status with the CloudEvents id it came with (the timeline's dedupe key). */
export interface StatusSeen {
  id: string;
  status: SyncStatusV2;
}

/** A dead letter and where it lies on its DLQ topic. */
export interface DeadLetterAt {
  topic: string;
  partition: number;
  offset: string;
  letter: DeadLetterSeen;
}

/** The signature of a dead-letter group: what failed the same way (topic, code, field, rule). */
export function deadLetterSignature(l: DeadLetterSeen): string {
  return createHash('sha256')
    .update([l.sourceTopic, l.code, l.field ?? '', l.rule ?? ''].join('\u0001'))
    .digest('hex');
}

interface StateRow {
  domain: string;
  entity_key: string;
  entity_type: string;
  commune_code: string;
  province_code: string;
  state: string;
  sequence: string;
  last_event_at: Date;
  synced_at: Date | null;
  unsynced_since: Date | null;
  drift_open: boolean;
  drift_count: number;
  repaired_count: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Applies what the sync services publish to the read model, set-based (a few statements per
 * batch, whatever its size), inside the consumer's transaction: a batch applies with its offsets
 * or not at all, so a restart neither loses nor doubles anything.
 */
export class ReadModelStore {
  constructor(private readonly provinceOf: (communeCode: string) => string) {}

  /**
   * Statuses: each goes on its entity's timeline once (by event id: a redelivered status is a
   * no-op), and the entities move on by `foldStatus`, in the order their statuses came.
   */
  async applyStatuses(tx: SqlExecutor, seen: StatusSeen[]): Promise<void> {
    if (seen.length === 0) return;
    const inserted = new Set(
      (
        await tx.query<Array<{ event_id: string }>>(
          `insert into entity_event (event_id, domain, entity_key, state, sequence, attempt, target, occurred_at, detail)
           select * from rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]),
             unnest($6::int[]), unnest($7::text[]), unnest($8::timestamptz[]), jsonb_array_elements($9::jsonb))
           on conflict (event_id) do nothing
           returning event_id`,
          [
            seen.map((x) => x.id),
            seen.map((x) => x.status.entity.domain),
            seen.map((x) => x.status.entity.key),
            seen.map((x) => x.status.state),
            seen.map((x) => x.status.sequence),
            seen.map((x) => x.status.attempt),
            seen.map((x) => x.status.target),
            seen.map((x) => x.status.occurredAt),
            jsonList(seen.map((x) => timelineDetail(x.status))),
          ],
        )
      ).map((r) => r.event_id),
    );
    const fresh = seen.filter((x) => inserted.has(x.id));
    if (fresh.length === 0) return;
    const keyOf = (domain: string, key: string) => `${domain}\u0001${key}`;
    const rows = await tx.query<StateRow[]>(
      `select * from entity_state where (domain, entity_key) in
         (select * from unnest($1::text[], $2::text[])) for update`,
      [fresh.map((x) => x.status.entity.domain), fresh.map((x) => x.status.entity.key)],
    );
    const states = new Map<string, EntityState>(
      rows.map((r) => [
        keyOf(r.domain, r.entity_key),
        {
          domain: r.domain,
          entityKey: r.entity_key,
          entityType: r.entity_type,
          communeCode: r.commune_code,
          provinceCode: r.province_code,
          state: r.state,
          sequence: Number(r.sequence),
          lastEventAt: r.last_event_at.toISOString(),
          syncedAt: iso(r.synced_at),
          unsyncedSince: iso(r.unsynced_since),
          driftOpen: r.drift_open,
          driftCount: r.drift_count,
          repairedCount: r.repaired_count,
        },
      ]),
    );
    const touched = new Map<string, EntityState>();
    for (const { status } of fresh) {
      const k = keyOf(status.entity.domain, status.entity.key);
      const next = foldStatus(touched.get(k) ?? states.get(k), status, this.provinceOf);
      touched.set(k, next);
    }
    const all = [...touched.values()];
    await tx.query(
      `insert into entity_state (domain, entity_key, entity_type, commune_code, province_code, state, sequence,
         last_event_at, synced_at, unsynced_since, drift_open, drift_count, repaired_count)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
         $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::boolean[], $12::int[], $13::int[])
       on conflict (domain, entity_key) do update set
         state = excluded.state, sequence = excluded.sequence, last_event_at = excluded.last_event_at,
         synced_at = excluded.synced_at, unsynced_since = excluded.unsynced_since,
         drift_open = excluded.drift_open, drift_count = excluded.drift_count,
         repaired_count = excluded.repaired_count`,
      [
        all.map((s) => s.domain),
        all.map((s) => s.entityKey),
        all.map((s) => s.entityType),
        all.map((s) => s.communeCode),
        all.map((s) => s.provinceCode),
        all.map((s) => s.state),
        all.map((s) => s.sequence),
        all.map((s) => s.lastEventAt),
        all.map((s) => s.syncedAt),
        all.map((s) => s.unsyncedSince),
        all.map((s) => s.driftOpen),
        all.map((s) => s.driftCount),
        all.map((s) => s.repairedCount),
      ],
    );
  }

  /** Health reports: the latest per instance and target (an older one changes nothing), and a sample for the charts. */
  async applyHealth(tx: SqlExecutor, reports: SyncHealthV2[]): Promise<void> {
    for (const r of reports) {
      await tx.query(
        `insert into target_health (service, instance, target, report, reported_at)
         values ($1, $2, $3, $4, $5)
         on conflict (service, instance, target) do update set report = excluded.report,
           reported_at = excluded.reported_at
         where target_health.reported_at <= excluded.reported_at`,
        [r.service, r.instance, r.target, JSON.stringify(r), r.reportedAt],
      );
      await tx.query(
        `insert into health_sample (service, instance, target, reported_at, breaker, pending, retrying,
           rejected, oldest_pending_age_seconds, consumer_lag)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          r.service,
          r.instance,
          r.target,
          r.reportedAt,
          r.breaker.state,
          r.backlog.pending,
          r.backlog.retrying,
          r.backlog.rejected,
          r.oldestPendingAgeSeconds ?? 0,
          r.consumerLag ?? 0,
        ],
      );
    }
  }

  /** Reconciliation progress: the latest report of each run (its last is the summary). */
  async applyReconcile(tx: SqlExecutor, progress: ReconcileProgressV1[]): Promise<void> {
    for (const p of progress)
      await tx.query(
        `insert into reconcile_run (id, service, status, progress, updated_at) values ($1, $2, $3, $4, $5)
         on conflict (id) do update set status = excluded.status, progress = excluded.progress,
           updated_at = excluded.updated_at
         where reconcile_run.updated_at <= excluded.updated_at`,
        [p.id, p.service, p.status, JSON.stringify(p), p.reportedAt],
      );
  }

  /** Dead letters: each once (by its place on its DLQ topic), grouped by signature. */
  async applyDeadLetters(tx: SqlExecutor, letters: DeadLetterAt[]): Promise<void> {
    if (letters.length === 0) return;
    const l = letters.map((x) => x.letter);
    await tx.query(
      `insert into dead_letter (dlq_topic, dlq_partition, dlq_offset, source_topic, stage, code, field, rule,
         message, event_type, subject, commune_code, province_code, attempts, first_failure_at,
         last_failure_at, signature, event_id)
       select * from unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int[],
         $15::timestamptz[], $16::timestamptz[], $17::text[], $18::text[])
       on conflict (dlq_topic, dlq_partition, dlq_offset) do nothing`,
      [
        letters.map((x) => x.topic),
        letters.map((x) => x.partition),
        letters.map((x) => x.offset),
        l.map((x) => x.sourceTopic),
        l.map((x) => x.stage),
        l.map((x) => x.code),
        l.map((x) => x.field ?? null),
        l.map((x) => x.rule ?? null),
        l.map((x) => maskText(x.message)),
        l.map((x) => x.eventType ?? null),
        l.map((x) => (x.subject ? maskText(x.subject) : null)),
        l.map((x) => x.communeCode ?? null),
        l.map((x) => (x.communeCode ? this.provinceOf(x.communeCode) : null)),
        l.map((x) => x.attempts),
        l.map((x) => x.firstFailureAt),
        l.map((x) => x.lastFailureAt),
        l.map((x) => deadLetterSignature(x)),
        l.map((x) => x.eventId ?? null),
      ],
    );
  }

  /**
   * Answers to commands: each service's answer once; a replay's answer marks the dead letters it
   * sent back (still open) as replayed — if one fails again, it comes back as a new dead letter.
   */
  /** Portal exchanges, one row each (a redelivered one is applied once). */
  async applyExchanges(tx: SqlExecutor, exchanges: PortalExchange[]): Promise<void> {
    if (exchanges.length === 0) return;
    const push = (e: PortalExchange) => /^([a-z-]+):(.+):(\d+):(\d+)$/.exec(e.correlationId);
    const col = <T>(f: (e: PortalExchange) => T) => exchanges.map(f);
    await tx.query(
      `insert into portal_exchange (service, instance, target, operation, correlation_id, attempt,
         started_at, duration_ms, outcome, http_status, portal_code, error_code, request_sha256,
         response_sha256, entity_type, entity_key)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
         $7::timestamptz[], $8::int[], $9::text[], $10::int[], $11::text[], $12::text[], $13::text[],
         $14::text[], $15::text[], $16::text[])
       on conflict (service, instance, correlation_id, attempt, started_at) do nothing`,
      [
        col((e) => e.service),
        col((e) => e.instance),
        col((e) => e.target),
        col((e) => e.operation),
        col((e) => e.correlationId),
        col((e) => e.attempt),
        col((e) => e.startedAt),
        col((e) => e.durationMs),
        col((e) => e.outcome),
        col((e) => e.httpStatus ?? null),
        col((e) => e.portalCode ?? null),
        col((e) => e.errorCode ?? null),
        col((e) => e.requestSha256 ?? null),
        col((e) => e.responseSha256 ?? null),
        col((e) => push(e)?.[1] ?? null),
        col((e) => push(e)?.[2] ?? null),
      ],
    );
  }

  /** The latest counts of each commune (an older snapshot never replaces a newer one). */
  async applyIndicators(tx: SqlExecutor, all: CommuneIndicators[]): Promise<void> {
    for (const i of all) {
      const { service: _s, domain, communeCode, period, measuredOn, computedAt, ...counts } = i;
      await tx.query(
        `insert into commune_indicators (domain, commune_code, province_code, period_from, period_to,
           measured_on, counts, computed_at)
         values ($1, $2, $3, $4, $5, $8, $6, $7)
         on conflict (domain, commune_code) do update set province_code = excluded.province_code,
           period_from = excluded.period_from, period_to = excluded.period_to,
           measured_on = excluded.measured_on,
           counts = excluded.counts, computed_at = excluded.computed_at
         where commune_indicators.computed_at <= excluded.computed_at`,
        [
          domain,
          communeCode,
          this.provinceOf(communeCode),
          period.from,
          period.to,
          JSON.stringify(counts),
          computedAt,
          measuredOn,
        ],
      );
    }
  }

  /** Deletes exchanges older than the retention, a bounded batch at a time. How many went. */
  async purgeExchanges(db: SqlExecutor, hours: number, batch = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const gone = returnedRows(
        await db.query(
          `delete from portal_exchange where id in (select id from portal_exchange
             where started_at < now() - make_interval(hours => $1) order by id limit $2)
           returning 1`,
          [hours, batch],
        ),
      ).length;
      total += gone;
      if (gone < batch) return total;
    }
  }

  async applyCommandResults(tx: SqlExecutor, results: OpsCommandResult[]): Promise<void> {
    for (const r of results) {
      await tx.query(
        `insert into command_result (command_id, service, instance, command, outcome, detail, result, answered_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (command_id, service) do nothing`,
        [
          r.commandId,
          r.service,
          r.instance,
          r.command,
          r.outcome,
          r.detail,
          JSON.stringify(r),
          r.answeredAt,
        ],
      );
      // The letters it sent back, by their place on the DLQ (a letter that fails again is a new
      // one, at a new offset, and stays open).
      if (r.replayed && r.replayed.letters.length > 0)
        await tx.query(
          `update dead_letter d set status = 'replayed', resolved_at = $3, resolution = $4
           from unnest($1::int[], $2::bigint[]) l(p, o)
           where d.status = 'open' and d.dlq_partition = l.p and d.dlq_offset = l.o
             and d.source_topic like '%' || $5`,
          [
            r.replayed.letters.map((l) => l.partition),
            r.replayed.letters.map((l) => l.offset),
            r.answeredAt,
            `replayed by command ${r.commandId}`,
            // The command names the contract topic; the letters lie on a copy of it (tests).
            r.replayed.topic.replace(/\.dlq\.v1$/, ''),
          ],
        );
    }
  }
}
