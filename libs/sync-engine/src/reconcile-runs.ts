import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { ReconcileProgressV1 } from '@lienthong/contracts';
import { jsonList, returnedRows } from '@lienthong/persistence';
import type { SqlExecutor } from './ledger-ingest';
import type { PushTarget } from './push-target.port';
import type { CheckResult, EntityRef, Reconciler } from './reconciler';
import { Wakeup } from './wakeup';

/** Which entities a run checks: every criterion given must match. */
export interface ReconcileScope {
  communeCodes?: string[];
  entityTypes?: string[];
  keys?: string[];
  /** Entities last changed in [from, to) (RFC 3339). */
  from?: string;
  to?: string;
  /** Only entities whose domain state is not terminal (a dossier still in process). */
  open?: boolean;
  /** Only one slice of the entities: those whose key hashes to `index` of `of`. */
  slice?: { index: number; of: number };
}

/**
 * Which ledger entities are still open, as their domain says it: the desired state's `field` is
 * not one of the `terminal` values (a dossier's TrangThaiHoSo not 3, 8, 10, 11).
 */
export interface OpenEntities {
  field: string;
  terminal: string[];
}

export interface RunSpec {
  /** The ops command that asked for it: a repeated command starts no second run. */
  commandId?: string;
  scope: ReconcileScope;
  dryRun: boolean;
  /** Entities checked per second at most: the run's own share of the portal's quota. */
  ratePerSecond: number;
  /** Check a random sample of this size instead of every entity in scope. */
  sampleSize?: number;
  /** The scheduled tier that started it; none when an operator did. */
  tier?: string;
}

/**
 * A run's progress as the engine reads it: what sync.reconcile.v1 carries of a run (its contract
 * type, ReconcileProgressV1) without who reports it, and whether it is a sample.
 */
export type RunProgress = Omit<
  ReconcileProgressV1,
  'service' | 'target' | 'driftRateUpperBound' | 'reportedAt'
> & {
  /** A sample run (its drift rate can be bounded). */
  sample: boolean;
};

interface RunRow {
  id: string;
  scope: ReconcileScope;
  dry_run: boolean;
  rate_per_second: number;
  sample_size: number | null;
  status: RunProgress['status'];
  total: number;
  checked: number;
  cursor: string | null;
  verifying_since: Date | null;
}

export interface ReconcileRunsOptions {
  dataSource: DataSource;
  reconciler: Reconciler;
  pushTarget: PushTarget;
  /** This worker's name in run leases. */
  owner: string;
  leaseMs: number;
  /** Entities per step. */
  pageSize: number;
  /** Verification gives up on entities still not settled after this long (reported, not hidden). */
  verifyTimeoutMs: number;
  /** A verifying run with nothing to verify yet looks again after this long. */
  idleMs: number;
  /** What `scope.open` means in this domain; without it every entity counts as open. */
  open?: OpenEntities;
}

/** The order a run walks its scope in: every entity by key, or a sample in a random order of its own. */
function sortKey(sample: boolean): string {
  return sample
    ? `md5($1::text || e.entity_type || chr(1) || e.entity_key)`
    : `e.entity_type || chr(1) || e.entity_key`;
}

/**
 * The scope as SQL over `sync_entity e`: parameters $3..$11, after the run id ($1) and the target
 * ($2). A rejected entity is not at its portal by the ledger's own account: a run has nothing to
 * compare (`rejected` leaves it out), a re-sync pushes it again.
 */
export function scopeFilter(
  scope: ReconcileScope,
  open: OpenEntities | undefined,
  rejected: 'exclude' | 'include' = 'exclude',
): { sql: string; params: unknown[] } {
  const slice = scope.slice && scope.slice.of > 1 ? scope.slice : undefined;
  return {
    sql: `e.target = $2 and (e.state <> 'REJECTED' or ${rejected === 'include'})
      and ($3::text[] is null or e.commune_code = any($3))
      and ($4::text[] is null or e.entity_type = any($4))
      and ($5::text[] is null or e.entity_key = any($5))
      and ($6::timestamptz is null or e.updated_at >= $6)
      and ($7::timestamptz is null or e.updated_at < $7)
      and ($8::text is null or not coalesce(e.desired->>$8 = any($9::text[]), false))
      and ($10::int is null or
        mod(hashtext(e.entity_type || chr(1) || e.entity_key)::bigint + 2147483648, $11::int) = $10)`,
    params: [
      scope.communeCodes ?? null,
      scope.entityTypes ?? null,
      scope.keys ?? null,
      scope.from ?? null,
      scope.to ?? null,
      scope.open && open ? open.field : null,
      scope.open && open ? open.terminal : null,
      slice ? slice.index % slice.of : null,
      slice ? slice.of : null,
    ],
  };
}

/**
 * Reconciliation runs (docs/architecture.md, "Reconciliation"): a run walks its scope in a fixed
 * order a page at a time, checks each page (Reconciler.check) and moves its checkpoint and counts
 * in the transaction that records the verdicts, so a run killed mid-way resumes where it was and
 * never checks a finished page again. One worker holds a run at a time (lease). After the walk the
 * run verifies: every entity found missing or drifted is checked again once its repair landed,
 * and every entity that was in flux once it settled. A sample run walks a random sample of the
 * scope and estimates the drift rate with its confidence bound.
 */
export class ReconcileRuns {
  constructor(private readonly options: ReconcileRunsOptions) {}

  /** Starts a run (or returns the one its command already started: the command id is unique). */
  async start(spec: RunSpec): Promise<string> {
    return (await this.startRun(spec)).id;
  }

  /** As `start`, and whether this call created the run. */
  async startRun(spec: RunSpec): Promise<{ id: string; created: boolean }> {
    const { dataSource, pushTarget } = this.options;
    if (spec.commandId !== undefined) {
      // Asked again (a repeated command, a schedule looking every second): no count of the scope.
      const [known] = await dataSource.query<Array<{ id: string }>>(
        'select id from reconcile_run where command_id = $1',
        [spec.commandId],
      );
      if (known) return { id: known.id, created: false };
    }
    const id = randomUUID();
    const filter = scopeFilter(spec.scope, this.options.open);
    const [count] = await dataSource.query<Array<{ n: number }>>(
      `select count(*)::int n from sync_entity e where $1::text is not null and ${filter.sql}`,
      [id, pushTarget.target, ...filter.params],
    );
    const total = Math.min(count?.n ?? 0, spec.sampleSize ?? Number.MAX_SAFE_INTEGER);
    const inserted: unknown = await dataSource.query(
      `insert into reconcile_run (id, command_id, scope, dry_run, rate_per_second, sample_size,
         total, tier)
       values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (command_id) do nothing returning id`,
      [
        id,
        spec.commandId ?? null,
        JSON.stringify(spec.scope),
        spec.dryRun,
        spec.ratePerSecond,
        spec.sampleSize ?? null,
        total,
        spec.tier ?? null,
      ],
    );
    if (returnedRows(inserted).length > 0) return { id, created: true };
    const [existing] = await dataSource.query<Array<{ id: string }>>(
      'select id from reconcile_run where command_id = $1',
      [spec.commandId],
    );
    return { id: (existing as { id: string }).id, created: false };
  }

  async cancel(id: string): Promise<void> {
    await this.options.dataSource.query(
      `update reconcile_run set status = 'cancelled', finished_at = now(), updated_at = now()
       where id = $1 and status in ('running', 'verifying')`,
      [id],
    );
  }

  /**
   * One step of the run whose turn it is: a page checked (or verified). Returns the run and how
   * many entities it asked the portal about (0: nothing to do now). The run's next step is due
   * when its own rate allows (n entities at r per second: n / r seconds after this step began,
   * so the step's own time counts towards the wait), or after `idleMs` when it waits for repairs
   * to land, so runs take turns and none holds up another.
   */
  async step(): Promise<{ runId: string; asked: number } | undefined> {
    if (this.options.pushTarget.blocked()) return undefined;
    const began = Date.now();
    const run = await this.claim();
    if (!run) return undefined;
    let asked = 0;
    let waitMs = 0;
    try {
      if (run.status === 'running') asked = await this.walk(run);
      else {
        asked = await this.verify(run);
        if (asked === 0) waitMs = this.options.idleMs;
      }
      if (asked > 0) waitMs = paceMs(asked, run.rate_per_second, began);
      return { runId: run.id, asked };
    } finally {
      await this.options.dataSource.query(
        `update reconcile_run set lease_owner = null, lease_until = null,
           next_step_at = now() + make_interval(secs => $3::double precision / 1000)
         where id = $1 and lease_owner = $2`,
        [run.id, this.options.owner, waitMs],
      );
    }
  }

  /** How long until some active run's next step is due (undefined: no active run). */
  async msUntilNextStep(): Promise<number | undefined> {
    const [row] = await this.options.dataSource.query<Array<{ ms: number | null }>>(
      `select (extract(epoch from min(next_step_at) - now()) * 1000)::float8 as ms
       from reconcile_run where status in ('running', 'verifying')`,
    );
    return row?.ms === null || row?.ms === undefined ? undefined : Math.max(0, row.ms);
  }

  private async claim(): Promise<RunRow | undefined> {
    const rows: unknown = await this.options.dataSource.query(
      `update reconcile_run set lease_owner = $1,
         lease_until = now() + make_interval(secs => $2::double precision / 1000), updated_at = now()
       where id = (
         select id from reconcile_run
         where status in ('running', 'verifying') and next_step_at <= now()
           and (lease_until is null or lease_until < now())
         order by next_step_at, started_at limit 1 for update skip locked)
       returning id, scope, dry_run, rate_per_second, sample_size, status, total, checked, cursor,
         verifying_since`,
      [this.options.owner, this.options.leaseMs],
    );
    return returnedRows<RunRow>(rows)[0];
  }

  /** The next page after the checkpoint; the checkpoint and counts move with the verdicts. */
  private async walk(run: RunRow): Promise<number> {
    const { dataSource, pushTarget, pageSize } = this.options;
    const sample = run.sample_size !== null;
    const filter = scopeFilter(run.scope, this.options.open);
    const order = sortKey(sample);
    // A sample stops at its size; a full run walks to the end of its scope.
    const limit = sample ? Math.min(pageSize, run.total - run.checked) : pageSize;
    const page =
      limit <= 0
        ? []
        : await dataSource.query<Array<EntityRef & { sort: string }>>(
            `select e.entity_type as "entityType", e.entity_key as "entityKey", ${order} as sort
             from sync_entity e
             where $1::text is not null and ${filter.sql} and ($12::text is null or ${order} > $12)
             order by ${order} limit $13`,
            [run.id, pushTarget.target, ...filter.params, run.cursor, limit],
          );
    if (page.length === 0) {
      await dataSource.query(
        `update reconcile_run set status = 'verifying', verifying_since = now(), updated_at = now()
         where id = $1 and status = 'running'`,
        [run.id],
      );
      return 0;
    }
    const cursor = (page[page.length - 1] as { sort: string }).sort;
    await this.options.reconciler.check(page, {
      dryRun: run.dry_run,
      runId: run.id,
      inTransaction: async (tx, results) => {
        await this.recordFindings(tx, run.id, page, results);
        const count = (v: string) => [...results.values()].filter((r) => r.verdict === v).length;
        await tx.query(
          `update reconcile_run set cursor = $2, checked = checked + $3, matched = matched + $4,
             missing = missing + $5, drifted = drifted + $6, in_flux = in_flux + $7, updated_at = now()
           where id = $1`,
          [
            run.id,
            cursor,
            results.size,
            count('MATCH'),
            count('MISSING'),
            count('DRIFT'),
            count('IN_FLUX'),
          ],
        );
      },
    });
    return page.length;
  }

  private async recordFindings(
    tx: SqlExecutor,
    runId: string,
    page: EntityRef[],
    results: Map<string, CheckResult>,
  ): Promise<void> {
    const found = page.filter((r) => {
      const v = results.get(r.entityKey)?.verdict;
      return v !== undefined && v !== 'MATCH';
    });
    if (found.length === 0) return;
    await tx.query(
      `insert into reconcile_finding (run_id, entity_type, entity_key, verdict, drift)
       select $1, * from rows from (unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), jsonb_array_elements($5::jsonb))
       on conflict (run_id, entity_type, entity_key) do update set verdict = excluded.verdict,
         drift = excluded.drift, verified_at = null, verified_verdict = null`,
      [
        runId,
        found.map((r) => r.entityType),
        found.map((r) => r.entityKey),
        found.map((r) => results.get(r.entityKey)?.verdict),
        jsonList(found.map((r) => results.get(r.entityKey)?.drift ?? [])),
      ],
    );
  }

  /**
   * Verification: each finding is checked again once its entity is settled (the repair landed, or
   * the change in flight ended). A dry run verifies only what was in flux (it repaired nothing).
   * The run finishes when every finding is verified, or at `verifyTimeoutMs` (the rest reported).
   */
  private async verify(run: RunRow): Promise<number> {
    const { dataSource, pageSize, verifyTimeoutMs } = this.options;
    const due = await dataSource.query<EntityRef[]>(
      `select f.entity_type as "entityType", f.entity_key as "entityKey"
       from reconcile_finding f join sync_entity e
         on e.entity_type = f.entity_type and e.entity_key = f.entity_key
       where f.run_id = $1 and f.verified_at is null and ($2 = false or f.verdict = 'IN_FLUX')
         and e.state = 'SYNCED' and e.lease_token is null
       order by f.entity_type, f.entity_key limit $3`,
      [run.id, run.dry_run, pageSize],
    );
    if (due.length > 0) {
      await this.options.reconciler.check(due, {
        dryRun: run.dry_run,
        runId: run.id,
        inTransaction: async (tx, results) => {
          const settledKeys = due.filter((r) => {
            const v = results.get(r.entityKey)?.verdict;
            return v === 'MATCH';
          });
          // Anything still different is a finding again (reported and repaired by check).
          await this.recordFindings(tx, run.id, due, results);
          if (settledKeys.length > 0) {
            await tx.query(
              `update reconcile_finding set verified_at = now(), verified_verdict = 'MATCH'
               where run_id = $1 and (entity_type, entity_key) in (select * from unnest($2::text[], $3::text[]))`,
              [run.id, settledKeys.map((r) => r.entityType), settledKeys.map((r) => r.entityKey)],
            );
            await tx.query(
              `update reconcile_run set verified = verified + $2, updated_at = now() where id = $1`,
              [run.id, settledKeys.length],
            );
          }
        },
      });
      return due.length;
    }
    // A finding whose entity was rejected meanwhile (its change refused) has nothing to verify.
    const [left] = await dataSource.query<Array<{ n: number }>>(
      `select count(*)::int n from reconcile_finding f join sync_entity e
         on e.entity_type = f.entity_type and e.entity_key = f.entity_key
       where f.run_id = $1 and f.verified_at is null and ($2 = false or f.verdict = 'IN_FLUX')
         and e.state <> 'REJECTED'`,
      [run.id, run.dry_run],
    );
    const timedOut =
      run.verifying_since !== null &&
      Date.now() - new Date(run.verifying_since).getTime() > verifyTimeoutMs;
    if ((left?.n ?? 0) === 0 || timedOut)
      await dataSource.query(
        `update reconcile_run set status = 'finished', finished_at = now(), updated_at = now()
         where id = $1 and status = 'verifying'`,
        [run.id],
      );
    return 0;
  }

  async progress(id: string): Promise<RunProgress | undefined> {
    const rows = await this.options.dataSource.query<
      Array<{
        id: string;
        tier: string | null;
        status: RunProgress['status'];
        dry_run: boolean;
        sample_size: number | null;
        total: number;
        checked: number;
        matched: number;
        missing: number;
        drifted: number;
        in_flux: number;
        repaired: number;
        verified: number;
        started_at: Date;
        finished_at: Date | null;
        elapsed: number;
      }>
    >(
      `select *, extract(epoch from coalesce(finished_at, now()) - started_at)::float8 as elapsed
       from reconcile_run where id = $1`,
      [id],
    );
    const r = rows[0];
    if (!r) return undefined;
    const rate = r.elapsed > 0 ? r.checked / r.elapsed : 0;
    return {
      id: r.id,
      tier: r.tier,
      status: r.status,
      dryRun: r.dry_run,
      sample: r.sample_size !== null,
      total: r.total,
      checked: r.checked,
      matched: r.matched,
      missing: r.missing,
      drifted: r.drifted,
      inFlux: r.in_flux,
      repaired: r.repaired,
      verified: r.verified,
      rate,
      etaSeconds: rate > 0 ? Math.max(0, (r.total - r.checked) / rate) : null,
      startedAt: new Date(r.started_at).toISOString(),
      finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    };
  }
}

/**
 * The drift rate's upper confidence bound from a sample: `found` differences in `checked` checks
 * (one-sided Clopper–Pearson; 0 in n gives the "rule of three", about 3/n at 95 %).
 */
export function driftRateUpperBound(found: number, checked: number, confidence = 0.95): number {
  if (checked <= 0) return 1;
  if (found >= checked) return 1;
  // Bisection on the binomial CDF: the largest p with P(X ≤ found | p) ≥ 1 - confidence.
  const alpha = 1 - confidence;
  let lo = found / checked;
  let hi = 1;
  for (let i = 0; i < 60; i += 1) {
    const mid = (lo + hi) / 2;
    if (binomialCdf(found, checked, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

function binomialCdf(k: number, n: number, p: number): number {
  // Sum of terms computed in log space (n up to millions).
  let logTerm = n * Math.log1p(-p); // i = 0
  let sum = Math.exp(logTerm);
  for (let i = 1; i <= k; i += 1) {
    logTerm += Math.log((n - i + 1) / i) + Math.log(p) - Math.log1p(-p);
    sum += Math.exp(logTerm);
  }
  return Math.min(1, sum);
}

export interface ReconcileWorkerOptions {
  /** Wait when no run has work. */
  idleMs: number;
  /** Blocked (breaker open, held, Retry-After running): no run takes a step. */
  pushTarget: Pick<PushTarget, 'blocked'>;
  /**
   * Lookups per second for all runs together: the reconciliation's share of the portal's quota
   * (each run also keeps to its own rate). Pushes have the rest.
   */
  budgetPerSecond: number;
  /** A progress report at most this often per run (and one when it finishes). */
  progressEveryMs: number;
  onProgress: (progress: RunProgress, finished: boolean) => void;
  onError: (err: unknown) => void;
}

/**
 * Drives reconciliation runs in the background, a step at a time: after a step that asked the
 * portal about n entities it waits n / budget seconds, so all runs together keep to the budget
 * (each run's own rate is kept by `ReconcileRuns.step`); it reports progress now and then and
 * once at the end. A blocked target (breaker open, held, Retry-After running) gets no lookups:
 * `step` does nothing until it is free.
 */
export class ReconcileWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  private readonly reportedAt = new Map<string, number>();
  private readonly finished = new Set<string>();

  constructor(
    private readonly runs: ReconcileRuns,
    private readonly options: ReconcileWorkerOptions,
    private readonly schedule?: ReconcileSchedule,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const waitMs = await this.round().catch((err: unknown) => {
          this.options.onError(err);
          return this.options.idleMs;
        });
        if (this.running && waitMs > 0) await this.wakeup.wait(waitMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }

  /** A run was started: look at once instead of at the end of the idle wait. */
  notify(): void {
    this.wakeup.notify();
  }

  /** One step (and the scheduled runs that are due); returns how long to wait before the next. */
  async round(): Promise<number> {
    await this.schedule?.startDue();
    const began = Date.now();
    const step = await this.runs.step();
    if (!step) {
      // Wake for the next run's turn, or after the idle wait (a run may be started meanwhile).
      const next = this.options.pushTarget.blocked()
        ? undefined
        : await this.runs.msUntilNextStep();
      return Math.max(50, Math.min(this.options.idleMs, next ?? this.options.idleMs));
    }
    const now = Date.now();
    const last = this.reportedAt.get(step.runId) ?? 0;
    if (step.asked === 0 || now - last >= this.options.progressEveryMs) {
      const progress = await this.runs.progress(step.runId);
      if (progress) {
        const done = progress.status === 'finished' || progress.status === 'cancelled';
        if (!done || !this.finished.has(progress.id)) {
          if (step.asked > 0 || done) {
            this.options.onProgress(progress, done);
            this.reportedAt.set(step.runId, now);
          }
          if (done) this.finished.add(progress.id);
        }
      }
    }
    return paceMs(step.asked, this.options.budgetPerSecond, began);
  }
}

/**
 * How long to wait, after a step that began at `began` and asked about n entities, so that steps
 * average `perSecond` entities: n / perSecond seconds from the step's start (a step slower than
 * that waits nothing — the portal's speed is then the limit).
 */
export function paceMs(n: number, perSecond: number, began: number, now = Date.now()): number {
  return Math.max(0, (n / Math.max(perSecond, 0.001)) * 1000 - (now - began));
}

/** A scheduled tier: how often it starts a run. */
export interface ReconcileTiers {
  /** Entities changed since the previous period began (recent and uncertain pushes); 0: off. */
  recentEveryMs: number;
  /** Entities whose domain state is still open; 0 (or no `OpenEntities`): off. */
  openEveryMs: number;
  /** Everything is swept once per period, one slice of `sweepSlices` at a time; 0: off. */
  sweepPeriodMs: number;
  sweepSlices: number;
  /** Scheduled runs only report (no repair). */
  dryRun: boolean;
  /** Each scheduled run's rate. */
  ratePerSecond: number;
}

/**
 * Starts the scheduled runs (docs/architecture.md, "Reconciliation"): a tier's run for a period
 * is started once, whichever instance gets there first and however often it restarts, because
 * its command id names the tier and the period (`schedule:<tier>:<period number>`).
 * - recent: entities changed since the previous period began: what was just pushed, and the
 *   pushes whose outcome was uncertain, are checked soon after;
 * - open: entities their domain says are not finished (OpenEntities), daily by default;
 * - sweep: the slice `period number mod slices` of all entities (a hash of the key), so every
 *   entity is checked once per `sweepPeriodMs`.
 */
export class ReconcileSchedule {
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly runs: ReconcileRuns,
    private readonly tiers: ReconcileTiers,
    private readonly options: {
      /** The domain can say which entities are open. */
      hasOpen: boolean;
      /** How often to look whether a period began (at most). */
      everyMs?: number;
      now?: () => number;
      onStarted?: (tier: string, runId: string) => void;
    },
  ) {}

  /** The runs due now that have not been started yet; their ids. */
  async startDue(): Promise<string[]> {
    const now = (this.options.now ?? Date.now)();
    if (now - this.checkedAt < (this.options.everyMs ?? 1000)) return [];
    this.checkedAt = now;
    const { tiers } = this;
    const started: string[] = [];
    const start = async (tier: string, everyMs: number, scope: (n: number) => ReconcileScope) => {
      if (everyMs <= 0) return;
      const n = Math.floor(now / everyMs);
      const key = `schedule:${tier}:${n}`;
      if (this.asked.has(key)) return;
      const run = await this.runs.startRun({
        commandId: key,
        tier,
        scope: scope(n),
        dryRun: tiers.dryRun,
        ratePerSecond: tiers.ratePerSecond,
      });
      this.asked.add(key);
      if (run.created) {
        started.push(run.id);
        this.options.onStarted?.(tier, run.id);
      }
    };
    await start('recent', tiers.recentEveryMs, (n) => ({
      from: new Date((n - 1) * tiers.recentEveryMs).toISOString(),
    }));
    if (this.options.hasOpen) await start('open', tiers.openEveryMs, () => ({ open: true }));
    const slices = Math.max(1, tiers.sweepSlices);
    await start('sweep', tiers.sweepPeriodMs > 0 ? tiers.sweepPeriodMs / slices : 0, (n) => ({
      slice: { index: n % slices, of: slices },
    }));
    return started;
  }

  /** The periods this instance has seen started (by it or another), not asked about again. */
  private readonly asked = new Set<string>();
}
