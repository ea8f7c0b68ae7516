import type { ReconcileProgressV1, SyncHealthV2 } from '@lienthong/contracts';
import type { SqlExecutor } from '@lienthong/messaging';
import { BACKLOG_STATES } from './entity-state';
import { indicatorRates } from './indicators';
import type { IndicatorCounts, IndicatorRates } from './indicators';

/** One commune's sync in one domain: the dashboard's matrix cell and the API's row. */
export interface CommuneRow {
  provinceCode: string;
  communeCode: string;
  domain: string;
  entities: number;
  synced: number;
  backlog: Record<(typeof BACKLOG_STATES)[number], number>;
  /** When the oldest change still waiting for the portal was accepted (null: none waits). */
  oldestUnsyncedAt: string | null;
  /** The last time an entity of this commune reached SYNCED. */
  lastSyncedAt: string | null;
  driftOpen: number;
  driftFound: number;
  repaired: number;
  deadLetters: number;
  /** An operator paused this commune's pushes in this domain (pause-communes): since when, who. */
  paused: { since: string; by: string; reason: string } | null;
}

/** A commune an operator paused in one domain's service, as its answer confirmed. */
export interface PausedCommune {
  communeCode: string;
  domain: string;
  since: string;
  by: string;
  reason: string;
}

/** A commune's Decision-766 counts and rates, as its sync service last computed them. */
export interface CommuneIndicatorRow {
  provinceCode: string;
  communeCode: string;
  domain: string;
  period: { from: string; to: string };
  /** Unfinished dossiers were measured on this day (overdue when due before it). */
  measuredOn: string;
  computedAt: string;
  counts: IndicatorCounts;
  rates: IndicatorRates;
}

export interface TimelineEntry {
  state: string;
  sequence: number;
  attempt: number;
  target: string;
  occurredAt: string;
  detail: Record<string, unknown>;
}

/** One HTTP exchange of a push with the portal: timing, outcome and digests, never a body. */
export interface ExchangeEntry {
  operation: string;
  attempt: number;
  startedAt: string;
  durationMs: number;
  outcome: string;
  httpStatus: number | null;
  errorCode: string | null;
  requestSha256: string | null;
  responseSha256: string | null;
}

/** A portal's calls in one minute: how many, how they ended, how long they took. */
export interface PortalMinute {
  target: string;
  minute: string;
  calls: number;
  /** Ended in a failure of the portal or the network (retriable, permanent, hold). */
  errors: number;
  /** Refused by the portal's quota (HTTP 429). */
  rateLimited: number;
  /** Not sent: the breaker open, the bulkhead full, a pause. */
  deferred: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Some instance reported the target's breaker open, or held, within the minute. */
  outage: boolean;
}

export interface DeadLetterGroup {
  signature: string;
  sourceTopic: string;
  code: string;
  field: string | null;
  rule: string | null;
  open: number;
  replayed: number;
  discarded: number;
  firstFailureAt: string;
  lastFailureAt: string;
  /** One message of the group (dead-letter messages carry no personal data; masked anyway). */
  sample: string;
}

/** The domain of a commune topic (`commune.<domain>.events.v1`, or a prefixed copy of it). */
export function domainOfTopic(topic: string): string | undefined {
  return /(?:^|\.)commune\.([a-z-]+)\.events\.v1$/.exec(topic)?.[1];
}

/** The domain a sync service serves (`<domain>-sync`). */
export function domainOfService(service: string): string {
  return service.replace(/-sync$/, '');
}

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

/** The read side: what the API and the dashboard show, each scoped to the provinces a role sees. */
export class ReadModelQueries {
  constructor(
    private readonly db: SqlExecutor,
    /** The province of a commune (the admin-units directory). */
    private readonly provinceOf: (communeCode: string) => string,
  ) {}

  async communes(
    provinces: string[] | undefined,
    filter: { domain?: string; provinceCode?: string } = {},
  ): Promise<CommuneRow[]> {
    const rows = await this.db.query<
      Array<{
        province_code: string;
        commune_code: string;
        domain: string;
        entities: number;
        synced: number;
        backlog: CommuneRow['backlog'];
        oldest: Date | null;
        last_synced: Date | null;
        drift_open: number;
        drift_found: number;
        repaired: number;
      }>
    >(
      `select province_code, commune_code, domain, count(*)::int entities,
         count(*) filter (where state = 'SYNCED')::int synced,
         jsonb_build_object(${BACKLOG_STATES.map((s) => `'${s}', count(*) filter (where state = '${s}')`).join(', ')}) backlog,
         min(unsynced_since) oldest, max(synced_at) last_synced,
         count(*) filter (where drift_open)::int drift_open,
         coalesce(sum(drift_count), 0)::int drift_found, coalesce(sum(repaired_count), 0)::int repaired
       from entity_state
       where ($1::text[] is null or province_code = any($1)) and ($2::text is null or domain = $2)
         and ($3::text is null or province_code = $3)
       group by province_code, commune_code, domain
       order by province_code, commune_code, domain`,
      [provinces ?? null, filter.domain ?? null, filter.provinceCode ?? null],
    );
    const letters = await this.db.query<
      Array<{ commune_code: string; source_topic: string; n: number }>
    >(
      `select commune_code, source_topic, count(*)::int n from dead_letter
       where status = 'open' and commune_code is not null
         and ($1::text[] is null or province_code = any($1))
       group by commune_code, source_topic`,
      [provinces ?? null],
    );
    const dlq = new Map(
      letters.map((l) => [`${l.commune_code}:${domainOfTopic(l.source_topic) ?? ''}`, l.n]),
    );
    const paused = new Map(
      (await this.pausedCommunes(provinces)).map((p) => [`${p.communeCode}:${p.domain}`, p]),
    );
    return rows.map((r) => ({
      provinceCode: r.province_code,
      communeCode: r.commune_code,
      domain: r.domain,
      entities: r.entities,
      synced: r.synced,
      backlog: r.backlog,
      oldestUnsyncedAt: isoOrNull(r.oldest),
      lastSyncedAt: isoOrNull(r.last_synced),
      driftOpen: r.drift_open,
      driftFound: r.drift_found,
      repaired: r.repaired,
      deadLetters: dlq.get(`${r.commune_code}:${r.domain}`) ?? 0,
      paused: ((p) => (p ? { since: p.since, by: p.by, reason: p.reason } : null))(
        paused.get(`${r.commune_code}:${r.domain}`),
      ),
    }));
  }

  /**
   * Communes paused now, per domain: for each commune and answering service, the latest
   * pause-communes or resume-communes this monitor sent that the service carried out (its answer
   * `done`), when that was a pause. Commands sent past the monitor do not show.
   */
  async pausedCommunes(provinces: string[] | undefined): Promise<PausedCommune[]> {
    const rows = await this.db.query<
      Array<{ commune_code: string; service: string; at: Date; operator: string; reason: string }>
    >(
      `select * from (
         select distinct on (c.code, r.service) c.code commune_code, r.service, a.action, a.at,
           a.operator, coalesce(a.detail, '') reason
         from audit_log a
         join command_result r on r.command_id = a.command_id and r.outcome = 'done'
         cross join lateral jsonb_array_elements_text(a.scope->'communeCodes') c(code)
         where a.action in ('pause-communes', 'resume-communes') and a.outcome = 'sent'
         order by c.code, r.service, r.answered_at desc
       ) latest
       where action = 'pause-communes'
       order by commune_code, service`,
    );
    return rows
      .filter((r) => !provinces || provinces.includes(this.provinceOf(r.commune_code)))
      .map((r) => ({
        communeCode: r.commune_code,
        domain: domainOfService(r.service),
        since: r.at.toISOString(),
        by: r.operator,
        reason: r.reason,
      }));
  }

  /** One entity: where it stands and everything that happened to it, oldest first. */
  async entity(
    domain: string,
    key: string,
  ): Promise<
    | {
        state: Record<string, unknown>;
        provinceCode: string;
        timeline: TimelineEntry[];
        exchanges: ExchangeEntry[];
        deadLetters: Array<Record<string, unknown>>;
      }
    | undefined
  > {
    const [state] = await this.db.query<Array<Record<string, unknown> & { province_code: string }>>(
      `select domain, entity_key "key", entity_type "type", commune_code "communeCode",
         province_code, state, sequence::int, last_event_at "lastEventAt", synced_at "syncedAt",
         unsynced_since "unsyncedSince", drift_open "driftOpen", drift_count "driftFound",
         repaired_count "repaired"
       from entity_state where domain = $1 and entity_key = $2`,
      [domain, key],
    );
    if (!state) return undefined;
    const events = await this.db.query<
      Array<{
        state: string;
        sequence: string;
        attempt: number;
        target: string;
        occurred_at: Date;
        detail: Record<string, unknown>;
      }>
    >(
      `select state, sequence, attempt, target, occurred_at, detail from entity_event
       where domain = $1 and entity_key = $2 order by occurred_at, id`,
      [domain, key],
    );
    const letters = await this.db.query<Array<Record<string, unknown>>>(
      `select code, field, rule, message, stage, status, last_failure_at "failedAt" from dead_letter
       where subject = $1 order by id`,
      [key],
    );
    const exchanges = await this.db.query<
      Array<{
        operation: string;
        attempt: number;
        started_at: Date;
        duration_ms: number;
        outcome: string;
        http_status: number | null;
        error_code: string | null;
        request_sha256: string | null;
        response_sha256: string | null;
      }>
    >(
      `select operation, attempt, started_at, duration_ms, outcome, http_status, error_code,
         request_sha256, response_sha256
       from portal_exchange where entity_key = $1 and entity_type = $2
       order by started_at, id limit 500`,
      [key, state.type],
    );
    const { province_code: provinceCode, ...rest } = state;
    return {
      state: rest,
      provinceCode,
      timeline: events.map((e) => ({
        state: e.state,
        sequence: Number(e.sequence),
        attempt: e.attempt,
        target: e.target,
        occurredAt: e.occurred_at.toISOString(),
        detail: e.detail,
      })),
      exchanges: exchanges.map((x) => ({
        operation: x.operation,
        attempt: x.attempt,
        startedAt: x.started_at.toISOString(),
        durationMs: x.duration_ms,
        outcome: x.outcome,
        httpStatus: x.http_status,
        errorCode: x.error_code,
        requestSha256: x.request_sha256,
        responseSha256: x.response_sha256,
      })),
      deadLetters: letters,
    };
  }

  /**
   * Dead letters grouped by what failed (topic, code, field, rule). A province role sees the
   * letters of its communes; a letter with no readable commune only a national role sees.
   */
  async deadLetterGroups(provinces: string[] | undefined): Promise<DeadLetterGroup[]> {
    const rows = await this.db.query<
      Array<{
        signature: string;
        source_topic: string;
        code: string;
        field: string | null;
        rule: string | null;
        open: number;
        replayed: number;
        discarded: number;
        first: Date;
        last: Date;
        sample: string;
      }>
    >(
      `select signature, min(source_topic) source_topic, min(code) code, min(field) field, min(rule) rule,
         count(*) filter (where status = 'open')::int open,
         count(*) filter (where status = 'replayed')::int replayed,
         count(*) filter (where status = 'discarded')::int discarded,
         min(first_failure_at) first, max(last_failure_at) last, min(message) sample
       from dead_letter
       where $1::text[] is null or province_code = any($1)
       group by signature order by max(last_failure_at) desc`,
      [provinces ?? null],
    );
    return rows.map((r) => ({
      signature: r.signature.trim(),
      sourceTopic: r.source_topic,
      code: r.code,
      field: r.field,
      rule: r.rule,
      open: r.open,
      replayed: r.replayed,
      discarded: r.discarded,
      firstFailureAt: r.first.toISOString(),
      lastFailureAt: r.last.toISOString(),
      sample: r.sample,
    }));
  }

  /**
   * The audit log with each command's answers: a national role sees every operator's, others
   * their own.
   */
  async commands(
    username: string,
    role: { provinces: '*' | string[] },
    limit = 100,
  ): Promise<Array<Record<string, unknown>>> {
    return this.db.query(
      `select a.at, a.operator, a.action, a.scope, a.command_id "commandId", a.outcome, a.detail,
         coalesce((select jsonb_agg(jsonb_build_object('service', r.service, 'outcome', r.outcome,
           'detail', r.detail, 'answeredAt', r.answered_at, 'runId', r.result->>'runId')
           order by r.answered_at)
           from command_result r where r.command_id = a.command_id), '[]') answers
       from audit_log a where $1::boolean or a.operator = $2
       order by a.id desc limit $3`,
      [role.provinces === '*', username, limit],
    );
  }

  async reconcileRuns(limit = 50): Promise<ReconcileProgressV1[]> {
    const rows = await this.db.query<Array<{ progress: ReconcileProgressV1 }>>(
      'select progress from reconcile_run order by updated_at desc limit $1',
      [limit],
    );
    return rows.map((r) => r.progress);
  }

  /**
   * Each portal's calls per minute over the last `hours`: counts by how they ended and latency
   * percentiles of the calls that reached the portal (deferred ones never left), with the minutes
   * some instance reported the breaker open. Minutes without calls or reports are absent.
   */
  async portalMinutes(hours: number): Promise<PortalMinute[]> {
    const rows = await this.db.query<
      Array<{
        target: string;
        minute: Date;
        calls: number;
        errors: number;
        rate_limited: number;
        deferred: number;
        p50: number | null;
        p95: number | null;
        p99: number | null;
        outage: boolean;
      }>
    >(
      `with calls as (
         select target, date_trunc('minute', started_at) as minute, count(*)::int calls,
           count(*) filter (where outcome in ('retriable', 'permanent', 'hold'))::int errors,
           count(*) filter (where http_status = 429 or error_code = 'PORTAL_RATE_LIMITED')::int rate_limited,
           count(*) filter (where outcome = 'deferred')::int deferred,
           percentile_cont(0.5) within group (order by duration_ms) filter (where outcome <> 'deferred') p50,
           percentile_cont(0.95) within group (order by duration_ms) filter (where outcome <> 'deferred') p95,
           percentile_cont(0.99) within group (order by duration_ms) filter (where outcome <> 'deferred') p99
         from portal_exchange where started_at >= now() - make_interval(hours => $1)
         group by 1, 2
       ), outages as (
         select target, date_trunc('minute', reported_at) as minute
         from health_sample
         where reported_at >= now() - make_interval(hours => $1) and breaker <> 'closed'
         group by 1, 2
       )
       select coalesce(c.target, o.target) target, coalesce(c.minute, o.minute) as minute,
         coalesce(c.calls, 0) calls, coalesce(c.errors, 0) errors,
         coalesce(c.rate_limited, 0) rate_limited, coalesce(c.deferred, 0) deferred,
         c.p50, c.p95, c.p99, o.target is not null outage
       from calls c full join outages o on o.target = c.target and o.minute = c.minute
       order by 1, 2`,
      [hours],
    );
    const ms = (v: number | null) => (v === null ? null : Math.round(Number(v)));
    return rows.map((r) => ({
      target: r.target,
      minute: r.minute.toISOString(),
      calls: r.calls,
      errors: r.errors,
      rateLimited: r.rate_limited,
      deferred: r.deferred,
      p50Ms: ms(r.p50),
      p95Ms: ms(r.p95),
      p99Ms: ms(r.p99),
      outage: r.outage,
    }));
  }

  /** Each commune's latest Decision-766 counts and rates, in the given provinces. */
  async indicators(provinces: string[] | undefined): Promise<CommuneIndicatorRow[]> {
    const rows = await this.db.query<
      Array<{
        province_code: string;
        commune_code: string;
        domain: string;
        period_from: string;
        period_to: string;
        measured_on: string;
        counts: IndicatorCounts;
        computed_at: Date;
      }>
    >(
      `select province_code, commune_code, domain, period_from::text, period_to::text,
         measured_on::text, counts, computed_at
       from commune_indicators where $1::text[] is null or province_code = any($1)
       order by province_code, commune_code, domain`,
      [provinces ?? null],
    );
    return rows.map((r) => ({
      provinceCode: r.province_code,
      communeCode: r.commune_code,
      domain: r.domain,
      period: { from: r.period_from, to: r.period_to },
      measuredOn: r.measured_on,
      computedAt: r.computed_at.toISOString(),
      counts: r.counts,
      rates: indicatorRates(r.counts),
    }));
  }

  /** The latest health report of every instance and target. */
  async targets(): Promise<SyncHealthV2[]> {
    const rows = await this.db.query<Array<{ report: SyncHealthV2 }>>(
      'select report from target_health order by service, target, instance',
    );
    return rows.map((r) => r.report);
  }
}
