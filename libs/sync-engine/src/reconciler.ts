import type { DataSource } from 'typeorm';
import type { SyncStatusV2 as SyncStatus } from '@lienthong/contracts';
import { fingerprint } from './fingerprint';
import type { SqlExecutor } from './ledger-ingest';
import type { DriftField, InspectedEntity, Inspection, PushTarget } from './push-target.port';
import { syncStatus, writeSyncStatus } from './sync-status';

/** How an entity compares with its portal. */
export type Verdict = 'MATCH' | 'MISSING' | 'DRIFT' | 'IN_FLUX';

export interface CheckResult {
  verdict: Verdict;
  /** DRIFT: the fields that differ (names only). */
  drift?: DriftField[];
}

export interface EntityRef {
  entityType: SyncStatus['entity']['type'];
  entityKey: string;
}

interface Row {
  entity_type: SyncStatus['entity']['type'];
  entity_key: string;
  commune_code: string;
  state: string;
  desired: unknown;
  source_sequence: string;
  result_reference: string | null;
  result: unknown;
  version: string;
  settled: boolean;
}

/**
 * Compares what the ledger says a portal holds with what the portal's lookup answers
 * (`PushTarget.inspect`, the same mapping as the push), and repairs through the one write path:
 * - an entity the ledger has not settled (not SYNCED, a push or poll in flight, parts not yet
 *   pushed) is IN_FLUX and not asked about;
 * - the ledger row is read again under a lock after the portal answered: if it changed meanwhile
 *   (a new event, a push), the answer is stale and the entity is IN_FLUX, never drift;
 * - MISSING or DRIFT publishes DRIFT_DETECTED (field names only) and, unless `dryRun`, makes the
 *   entity due again for the dispatcher: uncertain (the adapter looks before writing), and for a
 *   missing entity its parts unpushed (the portal lost them too). When the repair push lands, the
 *   dispatcher publishes REPAIRED.
 */
export class Reconciler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly pushTarget: PushTarget,
  ) {}

  /**
   * Checks these entities. `inTransaction` runs in the transaction that records the verdicts (a
   * run's checkpoint and counts move with them, or not at all).
   */
  async check(
    refs: EntityRef[],
    options: {
      dryRun: boolean;
      runId: string;
      correlationId?: string;
      inTransaction?: (tx: SqlExecutor, results: Map<string, CheckResult>) => Promise<void>;
    },
  ): Promise<Map<string, CheckResult>> {
    const target = this.pushTarget;
    const out = new Map<string, CheckResult>();
    if (!target.inspect || refs.length === 0) return out;
    const inspect = target.inspect.bind(target);
    const before = await this.read(this.dataSource.manager, refs, false);
    const settled = before.filter((r) => r.settled);
    for (const r of before) if (!r.settled) out.set(r.entity_key, { verdict: 'IN_FLUX' });
    if (settled.length === 0) {
      if (options.inTransaction)
        await this.dataSource.transaction(
          (tx) => options.inTransaction?.(tx, out) ?? Promise.resolve(),
        );
      return out;
    }
    const inspected: InspectedEntity[] = settled.map((r) => ({
      entityType: r.entity_type,
      entityKey: r.entity_key,
      communeCode: r.commune_code,
      desired: r.desired,
      ...(r.result_reference ? { reference: r.result_reference } : {}),
      ...(r.result !== null && r.result !== undefined ? { result: r.result } : {}),
    }));
    // A page's calls go out together: the target's gateway (bulkhead, rate limiter) decides how
    // many reach the portal at once, as it does for pushes.
    const answers = new Map<string, Inspection>();
    const batch = target.inspectBatch ?? 20;
    const correlationId = options.correlationId ?? `reconcile:${options.runId}:${Date.now()}`;
    const chunks: InspectedEntity[][] = [];
    for (let i = 0; i < inspected.length; i += batch) chunks.push(inspected.slice(i, i + batch));
    for (const part of await Promise.all(chunks.map((c) => inspect(c, correlationId))))
      for (const [key, answer] of part) answers.set(key, answer);
    await this.dataSource.transaction(async (tx) => {
      const now = new Map(
        (await this.read(tx, settled, true)).map((r) => [r.entity_key, r] as const),
      );
      for (const r of settled) {
        const answer = answers.get(r.entity_key);
        const current = now.get(r.entity_key);
        if (!answer) continue; // not asked (the portal could not say): checked again later
        if (!current || !current.settled || current.version !== r.version) {
          out.set(r.entity_key, { verdict: 'IN_FLUX' });
          continue;
        }
        const result = verdictOf(answer);
        out.set(r.entity_key, result);
        await tx.query(
          `update sync_entity set reconciled_at = now() where entity_type = $1 and entity_key = $2`,
          [r.entity_type, r.entity_key],
        );
        if (result.verdict === 'MATCH') continue;
        await this.report(tx, r, result, options);
      }
      await options.inTransaction?.(tx, out);
    });
    return out;
  }

  private async report(
    tx: SqlExecutor,
    r: Row,
    result: CheckResult,
    options: { dryRun: boolean; runId: string },
  ): Promise<void> {
    const drift: DriftField[] =
      result.verdict === 'MISSING'
        ? [{ field: '(entity)', kind: 'missing-at-portal' }]
        : (result.drift ?? []).slice(0, 200);
    await writeSyncStatus(
      tx,
      syncStatus(
        this.pushTarget,
        {
          entityType: r.entity_type,
          entityKey: r.entity_key,
          communeCode: r.commune_code,
          sequence: Number(r.source_sequence),
          attempt: 0,
        },
        'DRIFT_DETECTED',
        { drift },
      ),
    );
    if (options.dryRun) return;
    const missing = result.verdict === 'MISSING';
    await tx.query(
      `update sync_entity set state = 'PENDING', portal_uncertain = true, next_attempt_at = now(),
         pending_since = now(), attempts = 0, last_error = null, updated_at = now(),
         synced_fingerprint = case when $3 then null else synced_fingerprint end,
         drift_detected = $4
       where entity_type = $1 and entity_key = $2`,
      [
        r.entity_type,
        r.entity_key,
        missing,
        JSON.stringify({ verdict: result.verdict, drift, runId: options.runId, at: new Date() }),
      ],
    );
    if (missing)
      await tx.query(
        `update sync_entity_part set pushed_at = null, sent_at = null, sends = 0
         where entity_type = $1 and entity_key = $2`,
        [r.entity_type, r.entity_key],
      );
  }

  /**
   * The rows asked about, with a version that changes with any write to the row, and whether the
   * ledger considers the entity settled at its portal (SYNCED, no lease, no part waiting).
   */
  private async read(db: SqlExecutor, refs: EntityRef[] | Row[], lock: boolean): Promise<Row[]> {
    const types = refs.map((r) => ('entityType' in r ? r.entityType : r.entity_type));
    const keys = refs.map((r) => ('entityKey' in r ? r.entityKey : r.entity_key));
    return db.query<Row[]>(
      `select e.entity_type, e.entity_key, e.commune_code, e.state, e.desired, e.source_sequence,
         e.result_reference, e.result,
         concat_ws(':', e.updated_at, e.desired_fingerprint, e.parts_version, e.state) as version,
         (e.state = 'SYNCED' and e.lease_token is null and not exists (
            select 1 from sync_entity_part p where p.entity_type = e.entity_type
              and p.entity_key = e.entity_key and p.pushed_at is null)) as settled
       from sync_entity e
         join unnest($1::text[], $2::text[]) with ordinality as k(entity_type, entity_key, ord)
         on e.entity_type = k.entity_type and e.entity_key = k.entity_key
       order by k.ord
       ${lock ? 'for update of e' : ''}`,
      [types, keys],
    );
  }
}

/**
 * The top-level fields in which the portal's copy differs from ours, both already in the same
 * (portal-side) form: names only, values never leave this function.
 */
export function driftFields(
  ours: Record<string, unknown>,
  theirs: Record<string, unknown>,
): DriftField[] {
  const out: DriftField[] = [];
  for (const field of new Set([...Object.keys(ours), ...Object.keys(theirs)])) {
    const a = ours[field];
    const b = theirs[field];
    if (a === undefined && b === undefined) continue;
    if (b === undefined) out.push({ field, kind: 'missing-at-portal' });
    else if (a === undefined) out.push({ field, kind: 'unexpected-at-portal' });
    else if (fingerprint(a) !== fingerprint(b)) out.push({ field, kind: 'changed' });
  }
  return out.sort((x, y) => (x.field < y.field ? -1 : 1));
}

/**
 * `PushTarget.inspect` for a portal that is asked one entity at a time: all asked at once (the
 * gateway's limits apply), and an entity whose lookup failed is left out — checked again later,
 * never guessed.
 */
export async function inspectEach(
  entities: InspectedEntity[],
  inspectOne: (entity: InspectedEntity) => Promise<Inspection>,
): Promise<Map<string, Inspection>> {
  const out = new Map<string, Inspection>();
  await Promise.allSettled(
    entities.map(async (e) => {
      out.set(e.entityKey, await inspectOne(e));
    }),
  );
  return out;
}

function verdictOf(answer: Inspection): CheckResult {
  if (answer.kind === 'missing') return { verdict: 'MISSING' };
  return answer.drift.length === 0
    ? { verdict: 'MATCH' }
    : { verdict: 'DRIFT', drift: answer.drift };
}
