import type { DataSource } from 'typeorm';
import { formatResultRef } from '@lienthong/contracts';
import type { SyncStatusV2 as SyncStatus } from '@lienthong/contracts';
import { GroupCommit, jsonList, prepared, returnedRows } from '@lienthong/persistence';
import { lockHeldLeases, rowKey } from './held-leases';
import { fingerprint } from './fingerprint';
import type { SqlExecutor } from './ledger-ingest';
import type { AwaitingEntity, PollAnswer, PortalStage, PushTarget } from './push-target.port';
import { redactEchoes, statusError } from './status-error';
import {
  syncStatus,
  writeRepairedIfDrifted,
  writeSyncStatus,
  writeSyncStatuses,
} from './sync-status';
import type { DriftMark } from './sync-status';
import { RoundLoop, Wakeup } from './wakeup';

export interface ResultPollerOptions {
  dataSource: DataSource;
  pushTarget: PushTarget;
  /** This worker's name in leases (service instance id). */
  owner: string;
  /** A claimed batch is this worker's for this long (a crashed worker's batch is polled again after). */
  leaseMs: number;
  /** Wait between polls of one entity: doubles from `initialMs` to `maxMs` while it keeps waiting. */
  initialMs: number;
  maxMs: number;
  /** Wait when nothing is due. */
  idleMs: number;
  wakeup?: Wakeup;
  /**
   * True while submissions wait for a push slot (the dispatcher's `backlogged`): a round then waits,
   * up to `maxYieldMs` after the last round that ran. The portal cannot decide what it has not
   * received, and a round's calls, claim and update take the same cores and bulkhead as the pushes:
   * without polls, the backlog of a 60 s civil-status registry outage drained in 11.1–13.4 s
   * against 15.6–17.1 s with them (bench:registries, test/bench/RESULTS.md). During a long backlog
   * a round still runs every `maxYieldMs`, so answers keep coming in.
   */
  yieldTo?: () => boolean;
  /** 0 (the default): rounds never wait for pushes. */
  maxYieldMs?: number;
  /** Called after answers were recorded (with their outbox rows): e.g. wake the relay. */
  onRecorded?: () => void;
  onError?: (err: unknown) => void;
}

export interface PollStats {
  polls: number;
  answered: number;
  supplements: number;
  refused: number;
  failedPolls: number;
  /** Inbound facts (callbacks) applied. */
  facts: number;
}

interface Row {
  entity_type: AwaitingEntity['entityType'];
  entity_key: string;
  commune_code: string;
  source_sequence: string;
  result_reference: string;
  polls: number;
  awaiting_since: Date;
  desired: unknown;
  state: string;
  portal_stage: PortalStage | null;
  supplement: unknown;
  /** null when a callback (not a poll) records the answer. */
  lease_token: string | null;
}

/** A fact a portal pushed about one of its entities (a callback), to apply to the ledger. */
export interface InboundFact {
  /** Unique per fact at the portal: a repeated callback carries the same id and applies once. */
  id: string;
  /** The reference the portal knows the entity by (what the push's receipt awaited on). */
  reference: string;
  /** When the portal says it happened: facts apply in this order, a late one changes nothing. */
  at: Date;
  answer: PollAnswer;
}

/**
 * applied; duplicate (seen before); stale (older than what the ledger holds); settled (the entity's
 * answer is in already: nothing left to change); unknown (no entity under that reference, or it is
 * being pushed again: ask again later).
 */
export type FactOutcome = 'applied' | 'duplicate' | 'stale' | 'settled' | 'unknown';

const MESSAGE_MAX = 500;
const AWAITING = `state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED')`;

/** Entities asked about per round when the target does not say (PushTarget.pollBatch). */
const POLL_BATCH = 20;

/** Callbacks applied together at most (group commit: those that arrive while a batch is written). */
const FACT_BATCH = 64;

/** An answer recordAll writes for a whole round in one statement (ROUND_ANSWERS); the rare others are written one by one. */
type RoundAnswer = Extract<PollAnswer, { kind: 'waiting' | 'done' }>;
const isRoundAnswer = (a: PollAnswer): a is RoundAnswer =>
  a.kind === 'waiting' || a.kind === 'done';

/**
 * A round's "still waiting" and "done" answers, $1–$10 one element per row, under each row's lease
 * and with applyAnswer's conditions (still awaiting, no newer fact in): one statement for the
 * round, where one UPDATE per row took a round trip each. Returns the rows it changed.
 */
const roundAnswers = (facts: boolean) =>
  prepared(`update sync_entity e set
   state = case when i.done then 'SYNCED' else e.state end,
   result = case when i.done then i.result else e.result end,
   polls = i.polls,
   next_poll_at = case when i.done then null when i.poll_now then now() else i.next_poll_at end,
   supplement = case when i.done then null else e.supplement end,
   portal_stage = coalesce(nullif(i.stage, 'null'::jsonb), e.portal_stage),
   last_fact_at = case when i.at is null then e.last_fact_at else greatest(e.last_fact_at, i.at) end,
   ${facts ? 'updated_at = now()' : 'lease_owner = null, lease_until = null, lease_token = null, updated_at = now()'}
 from rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::uuid[]), unnest($4::timestamptz[]),
        unnest($5::boolean[]), jsonb_array_elements($6::jsonb), unnest($7::integer[]),
        unnest($8::timestamptz[]), unnest($9::boolean[]), jsonb_array_elements($10::jsonb))
   as i(entity_type, entity_key, token, at, done, result, polls, next_poll_at, poll_now, stage)
 where e.entity_type = i.entity_type and e.entity_key = i.entity_key
   and ${facts ? 'i.token is null' : 'e.lease_token = i.token'}
   and e.${AWAITING}
   and (i.at is null or e.last_fact_at is null or e.last_fact_at <= i.at)
 returning e.entity_type, e.entity_key, e.drift_detected`);
const ROUND_ANSWERS = roundAnswers(false);
/** The same for callbacks (facts): no lease asked for, and any lease a poll holds left alone (applyAnswer). */
const FACT_ANSWERS = roundAnswers(true);

/**
 * The second phase of a two-phase target: a portal that accepted a submission (AWAITING_RESULT)
 * answers later. Due entities are claimed in batches (`pollBatch`, SKIP LOCKED, under a lease
 * token like pushes), asked about in one call, and each answer is recorded with its sync.status
 * outbox row in one transaction, only while the lease is ours:
 * - still waiting: asked again later, the wait doubling to `maxMs` (a status only when the portal's
 *   stage changed); a result that never comes stays visible (`awaiting.since`, `polls`);
 * - a supplement request: SUPPLEMENT_REQUESTED with its deadline, a state the commune acts on;
 * - the result: SYNCED; the whole answer is kept in the ledger, only a reference and the
 *   non-personal register entry are published;
 * - a refusal: REJECTED with the portal's reason (its echoes of our submission cut out).
 * A new desired state from the commune (ingest) takes the entity out of the wait: it is pushed again.
 */
export class ResultPoller {
  readonly stats: PollStats = {
    polls: 0,
    answered: 0,
    supplements: 0,
    refused: 0,
    failedPolls: 0,
    facts: 0,
  };
  private readonly loop: RoundLoop;
  /** When the last round began (Date.now()): a round yields to pushes for maxYieldMs after it at most. */
  private lastRoundAt = 0;
  /** Callbacks that arrive together are applied in one transaction (applyFactBatch). */
  private readonly facts = new GroupCommit<InboundFact, FactOutcome>(
    (batch) => this.applyFactBatch(batch),
    FACT_BATCH,
  );

  constructor(private readonly options: ResultPollerOptions) {
    // A round that asked about fewer than a batch took every entity due: the next waits.
    this.loop = new RoundLoop(
      async () => ({
        more: (await this.runOnce()) >= (options.pushTarget.pollBatch ?? POLL_BATCH),
      }),
      options.wakeup ?? new Wakeup(),
      options.idleMs,
      options.onError ?? ((e: unknown) => process.stderr.write(`poll failed: ${String(e)}\n`)),
    );
  }

  start(): void {
    if (this.options.pushTarget.poll) this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One round: claim a batch of due entities, ask the portal once, record every answer. Returns how many were asked about. */
  async runOnce(): Promise<number> {
    const target = this.options.pushTarget;
    if (!target.poll || target.blocked()) return 0;
    const { yieldTo, maxYieldMs = 0 } = this.options;
    if (yieldTo?.() && Date.now() - this.lastRoundAt < maxYieldMs) return 0;
    this.lastRoundAt = Date.now();
    const rows = await this.claim(target.pollBatch ?? POLL_BATCH);
    if (rows.length === 0) return 0;
    const entities: AwaitingEntity[] = rows.map((r) => ({
      entityType: r.entity_type,
      entityKey: r.entity_key,
      communeCode: r.commune_code,
      sourceSequence: Number(r.source_sequence),
      reference: r.result_reference,
      polls: r.polls,
      awaitingSince: new Date(r.awaiting_since),
      desired: r.desired,
    }));
    let answers: Map<string, PollAnswer>;
    try {
      answers = await target.poll(entities, `poll:${target.target}:${Date.now()}`);
      this.stats.polls += 1;
    } catch (err) {
      // The portal could not be asked: every entity of the batch is asked again later.
      this.stats.failedPolls += 1;
      await this.recordAll(rows.map((row) => ({ row, answer: { kind: 'waiting' }, asked: false })));
      throw err;
    }
    await this.recordAll(
      rows.map((row) => ({
        row,
        answer: answers.get(row.entity_key) ?? { kind: 'waiting' },
        asked: true,
      })),
    );
    this.options.onRecorded?.();
    return rows.length;
  }

  /**
   * Records a round's answers in one transaction (one commit for the batch, not one per entity).
   * It writes only rows it could lock at once under their lease (see heldLeases); a row another
   * writer holds that moment — or every row, if the batch fails — is recorded in its own
   * transaction, which waits for the lock.
   */
  private async recordAll(
    items: Array<{ row: Row; answer: PollAnswer; asked: boolean }>,
  ): Promise<void> {
    const held = await this.options.dataSource
      .transaction(async (tx) => {
        const held = await lockHeldLeases(
          tx,
          items.map(({ row }) => ({
            entityType: row.entity_type,
            entityKey: row.entity_key,
            token: row.lease_token,
          })),
          false,
        );
        await this.recordRoundIn(
          tx,
          items.filter(({ row }) => held.has(rowKey(row))),
        );
        return held;
      })
      .catch(() => new Set<string>());
    await Promise.all(
      items
        .filter((i) => !held.has(rowKey(i.row)))
        .map((i) => this.record(i.row, i.answer, i.asked)),
    );
  }

  /**
   * Records a round's answers in `tx`, the rows locked under their leases: "still waiting" and
   * "done" (nearly every answer) in one statement with their statuses in one outbox row; a
   * supplement request or a refusal one by one (recordIn). What one answer does is applyAnswer's.
   */
  private async recordRoundIn(
    tx: SqlExecutor,
    items: Array<{ row: Row; answer: PollAnswer; asked: boolean }>,
    isFact = false,
  ): Promise<Set<string>> {
    const applied = new Set<string>();
    const round: Array<{ row: Row; answer: RoundAnswer; polls: number; nextPollAt: Date }> = [];
    for (const { row, answer, asked } of items) {
      if (!isRoundAnswer(answer)) {
        if (await this.recordIn(tx, row, answer, asked, isFact)) applied.add(rowKey(row));
        continue;
      }
      const polls = row.polls + (asked ? 1 : 0);
      round.push({ row, answer, polls, nextPollAt: new Date(Date.now() + this.nextWaitMs(polls)) });
    }
    if (round.length === 0) return applied;
    const json = (v: unknown) => (v === undefined ? null : v);
    const updated: unknown = await tx.query(isFact ? FACT_ANSWERS : ROUND_ANSWERS, [
      round.map((r) => r.row.entity_type),
      round.map((r) => r.row.entity_key),
      round.map((r) => r.row.lease_token),
      round.map((r) => r.answer.at?.toISOString() ?? null),
      round.map((r) => r.answer.kind === 'done'),
      jsonList(round.map((r) => (r.answer.kind === 'done' ? json(r.answer.result) : null))),
      round.map((r) => r.polls),
      round.map((r) => r.nextPollAt.toISOString()),
      round.map((r) => r.answer.kind === 'waiting' && r.answer.pollNow === true),
      jsonList(round.map((r) => json(r.answer.stage))),
    ]);
    const changed = returnedRows<
      Pick<Row, 'entity_type' | 'entity_key'> & { drift_detected: DriftMark | null }
    >(updated);
    const drift = new Map(changed.map((c) => [rowKey(c), c.drift_detected]));
    const statuses: SyncStatus[] = [];
    for (const { row, answer, polls, nextPollAt } of round) {
      const key = rowKey(row);
      if (!drift.has(key)) {
        if (!isFact) await this.release(tx, row, polls, nextPollAt);
        continue;
      }
      applied.add(key);
      if (answer.kind === 'waiting') {
        const status = this.waitingStatus(row, answer, polls, nextPollAt, isFact);
        if (status) statuses.push(status);
        continue;
      }
      const mark = drift.get(key) ?? null;
      const status = this.doneStatus(row, answer);
      this.stats.answered += 1;
      if (!mark) {
        statuses.push(status);
        continue;
      }
      // Rare (a repair reconciliation asked for): its REPAIRED follows its SYNCED at once.
      await writeSyncStatus(tx, status);
      await writeRepairedIfDrifted(tx, this.options.pushTarget, mark, this.subject(row));
    }
    await writeSyncStatuses(tx, statuses);
    return applied;
  }

  private async claim(limit: number): Promise<Row[]> {
    // An UPDATE … RETURNING answers [rows, count] through TypeORM: returnedRows reads the rows.
    const updated: unknown = await this.options.dataSource.query(
      `with due as (
         select entity_type, entity_key from sync_entity
         where target = $3 and state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED')
           and next_poll_at <= now() and (lease_until is null or lease_until < now())
         order by next_poll_at limit $4
         for update skip locked
       )
       update sync_entity e set lease_owner = $1, lease_token = gen_random_uuid(),
         lease_until = now() + make_interval(secs => $2::double precision / 1000)
       from due where e.entity_type = due.entity_type and e.entity_key = due.entity_key
       returning e.entity_type, e.entity_key, e.commune_code, e.source_sequence, e.result_reference,
         e.polls, e.awaiting_since, e.desired, e.state, e.portal_stage, e.supplement, e.lease_token`,
      [this.options.owner, this.options.leaseMs, this.options.pushTarget.target, limit],
    );
    return returnedRows<Row>(updated);
  }

  private nextWaitMs(polls: number): number {
    return Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(polls, 30));
  }

  /** Records one answer if the lease is still ours and the entity still awaits; false otherwise. */
  private async record(row: Row, answer: PollAnswer, asked: boolean): Promise<boolean> {
    return this.options.dataSource.transaction((tx) => this.recordIn(tx, row, answer, asked));
  }

  /**
   * A fact the portal pushed (a callback) about the entity it knows by `reference`: applied like a
   * poll's answer, once (deduplicated by the fact's id, in the same transaction) and in the
   * portal's order (`at`). 'unknown' when no entity awaits under that reference now (not yet
   * recorded as accepted, or being pushed again): nothing is remembered, so the portal's retry or
   * the next poll brings it. 'settled' when the entity's answer is already in.
   */
  applyFact(fact: InboundFact): Promise<FactOutcome> {
    return this.facts.submit(fact);
  }

  /**
   * Callbacks that arrived together, in one transaction: the rows awaiting under their references
   * locked at once (rows another writer holds are skipped, never waited for while holding
   * others), their fact ids kept in one statement, then each applied as applyFactAlone would. What
   * the batch does not settle — a reference with no row awaiting that it could lock, a second fact
   * for one reference, every fact of a batch that failed — is applied alone afterwards, in
   * arrival order. The outcome of each fact is what applyFactAlone would answer.
   */
  private async applyFactBatch(facts: InboundFact[]): Promise<FactOutcome[]> {
    const outcomes: Array<FactOutcome | undefined> = facts.map(() => undefined);
    if (facts.length > 1)
      await this.options.dataSource
        .transaction(async (tx) => {
          const settled = await this.applyFactsIn(tx, facts);
          settled.forEach((o, i) => (outcomes[i] = o));
        })
        .catch(() => outcomes.fill(undefined));
    for (const o of outcomes) if (o === 'applied') this.stats.facts += 1;
    for (const [i, fact] of facts.entries()) outcomes[i] ??= await this.applyFactAlone(fact);
    return outcomes as FactOutcome[];
  }

  /** applyFactBatch's transaction: the outcome of each fact it settles (undefined: apply it alone). */
  private async applyFactsIn(
    tx: SqlExecutor,
    facts: InboundFact[],
  ): Promise<Array<FactOutcome | undefined>> {
    const target = this.options.pushTarget.target;
    const first = new Map<string, number>();
    facts.forEach((f, i) => {
      if (!first.has(f.reference)) first.set(f.reference, i);
    });
    const rows = await tx.query<Row[]>(
      `select entity_type, entity_key, commune_code, source_sequence, result_reference, polls,
         awaiting_since, desired, state, portal_stage, supplement, null as lease_token
       from sync_entity where target = $1 and result_reference = any($2::text[]) and ${AWAITING}
       order by entity_type, entity_key for update skip locked`,
      [target, [...first.keys()]],
    );
    const awaiting = new Map(rows.map((r) => [r.result_reference, r]));
    const ids = new Set<string>();
    const mine = [...first.values()].filter((i) => {
      const { reference, id } = facts[i] as InboundFact;
      if (!awaiting.has(reference) || ids.has(id)) return false;
      ids.add(id);
      return true;
    });
    const outcomes: Array<FactOutcome | undefined> = facts.map(() => undefined);
    if (mine.length === 0) return outcomes;
    const fresh = new Set(
      returnedRows<{ event_id: string }>(
        await tx.query(
          `insert into processed_event (source, event_id, fingerprint)
           select $1, i.id, i.fp from unnest($2::text[], $3::text[]) as i(id, fp)
           on conflict do nothing returning event_id`,
          [
            `portal:${target}`,
            mine.map((i) => (facts[i] as InboundFact).id),
            mine.map((i) => fingerprint((facts[i] as InboundFact).answer)),
          ],
        ),
      ).map((r) => r.event_id),
    );
    const apply = mine.filter((i) => fresh.has((facts[i] as InboundFact).id));
    const applied = await this.recordRoundIn(
      tx,
      apply.map((i) => {
        const fact = facts[i] as InboundFact;
        return {
          row: awaiting.get(fact.reference) as Row,
          answer: { ...fact.answer, at: fact.at },
          asked: false,
        };
      }),
      true,
    );
    for (const i of mine) {
      const fact = facts[i] as InboundFact;
      const row = awaiting.get(fact.reference) as Row;
      outcomes[i] = !fresh.has(fact.id)
        ? 'duplicate'
        : applied.has(rowKey(row))
          ? 'applied'
          : 'stale';
    }
    return outcomes;
  }

  /** One callback in its own transaction, waiting for its row's lock. */
  private async applyFactAlone(fact: InboundFact): Promise<FactOutcome> {
    const target = this.options.pushTarget.target;
    return this.options.dataSource.transaction(async (tx) => {
      const rows = await tx.query<Row[]>(
        `select entity_type, entity_key, commune_code, source_sequence, result_reference, polls,
           awaiting_since, desired, state, portal_stage, supplement, null as lease_token
         from sync_entity where target = $1 and result_reference = $2
         order by state in ('AWAITING_RESULT', 'SUPPLEMENT_REQUESTED') desc limit 1
         for update`,
        [target, fact.reference],
      );
      const row = rows[0];
      if (!row || row.state === 'PENDING' || row.state === 'RETRYING') return 'unknown';
      // Its answer is in (or it was refused): a late callback has nothing left to change.
      if (row.state !== 'AWAITING_RESULT' && row.state !== 'SUPPLEMENT_REQUESTED') return 'settled';
      const fresh: unknown = await tx.query(
        `insert into processed_event (source, event_id, fingerprint) values ($1, $2, $3)
         on conflict do nothing returning 1`,
        [`portal:${target}`, fact.id, fingerprint(fact.answer)],
      );
      if (returnedRows(fresh).length === 0) return 'duplicate';
      const applied = await this.recordIn(tx, row, { ...fact.answer, at: fact.at }, false, true);
      if (applied) this.stats.facts += 1;
      return applied ? 'applied' : 'stale';
    });
  }

  private async recordIn(
    tx: SqlExecutor,
    row: Row,
    answer: PollAnswer,
    asked: boolean,
    isFact = false,
  ): Promise<boolean> {
    const polls = row.polls + (asked ? 1 : 0);
    const nextPollAt = new Date(Date.now() + this.nextWaitMs(polls));
    const applied = await this.applyAnswer(tx, row, answer, polls, nextPollAt, isFact);
    if (!applied && !isFact) await this.release(tx, row, polls, nextPollAt);
    return applied;
  }

  /**
   * After an answer that changed nothing under this lease: a fact newer than it is in already (it
   * is stale), the entity left the wait (a new desired state), or the lease is lost. While the
   * lease is ours, release it, and if the entity still waits, ask again after the usual wait: a
   * claim is never left to expire and be polled again at once, over and over.
   */
  private async release(tx: SqlExecutor, row: Row, polls: number, nextPollAt: Date): Promise<void> {
    await tx.query(
      `update sync_entity set
         polls = case when ${AWAITING} then $4 else polls end,
         next_poll_at = case when ${AWAITING} then $5 else next_poll_at end,
         lease_owner = null, lease_until = null, lease_token = null, updated_at = now()
       where entity_type = $1 and entity_key = $2 and lease_token = $3`,
      [row.entity_type, row.entity_key, row.lease_token, polls, nextPollAt],
    );
  }

  private async applyAnswer(
    tx: SqlExecutor,
    row: Row,
    answer: PollAnswer,
    polls: number,
    nextPollAt: Date,
    isFact: boolean,
  ): Promise<boolean> {
    const key = [row.entity_type, row.entity_key, row.lease_token];
    const stage = answer.stage ? JSON.stringify(answer.stage) : null;
    const at = answer.at ?? null;
    // A fact leaves any lease a poll holds; a poll's answer releases its lease. Either way the
    // next (fallback) poll comes after the usual wait.
    const release = isFact
      ? 'updated_at = now()'
      : 'lease_owner = null, lease_until = null, lease_token = null, updated_at = now()';
    const ordered = `last_fact_at = case when $4::timestamptz is null then last_fact_at
        else greatest(last_fact_at, $4::timestamptz) end`;
    const still = `entity_type = $1 and entity_key = $2 and ${isFact ? '$3::text is null' : 'lease_token = $3'}
        and ${AWAITING}
        and ($4::timestamptz is null or last_fact_at is null or last_fact_at <= $4::timestamptz)`;
    const base = [...key, at];
    switch (answer.kind) {
      case 'waiting': {
        const updated: unknown = await tx.query(
          `update sync_entity set polls = $5,
             next_poll_at = case when $8 then now() else $6 end,
             portal_stage = coalesce($7::jsonb, portal_stage), ${ordered}, ${release}
           where ${still} returning 1`,
          [...base, polls, nextPollAt, stage, answer.pollNow === true],
        );
        if (returnedRows(updated).length === 0) return false;
        const status = this.waitingStatus(row, answer, polls, nextPollAt, isFact);
        if (status) await writeSyncStatus(tx, status);
        return true;
      }
      case 'supplement': {
        const supplement = {
          requestedAt: answer.requestedAt,
          deadline: answer.deadline,
          ...(answer.note
            ? { note: redactEchoes(answer.note, row.desired).slice(0, MESSAGE_MAX) }
            : {}),
        };
        const updated: unknown = await tx.query(
          `update sync_entity set state = 'SUPPLEMENT_REQUESTED', supplement = $5, polls = $6,
             next_poll_at = $7, portal_stage = coalesce($8::jsonb, portal_stage), ${ordered}, ${release}
           where ${still} returning 1`,
          [...base, JSON.stringify(supplement), polls, nextPollAt, stage],
        );
        if (returnedRows(updated).length === 0) return false;
        if (
          row.state !== 'SUPPLEMENT_REQUESTED' ||
          fingerprint(row.supplement) !== fingerprint(supplement) // jsonb reorders keys
        ) {
          await this.writeStatus(tx, row, 'SUPPLEMENT_REQUESTED', {
            supplement,
            ...(answer.stage ? { portalStage: this.stage(answer.stage) } : {}),
          });
          this.stats.supplements += 1;
        }
        return true;
      }
      case 'done': {
        const updated: unknown = await tx.query(
          `update sync_entity set state = 'SYNCED', result = $5, polls = $6, next_poll_at = null,
             supplement = null, portal_stage = coalesce($7::jsonb, portal_stage), ${ordered}, ${release}
           where ${still} returning drift_detected`,
          [...base, JSON.stringify(answer.result ?? null), polls, stage],
        );
        const done = returnedRows<{ drift_detected: DriftMark | null }>(updated)[0];
        if (!done) return false;
        await writeSyncStatus(tx, this.doneStatus(row, answer));
        await writeRepairedIfDrifted(
          tx,
          this.options.pushTarget,
          done.drift_detected,
          this.subject(row),
        );
        this.stats.answered += 1;
        return true;
      }
      case 'refused': {
        const error = answer.error;
        const lastError = {
          code: error.code,
          class: error.outcome,
          message: error.message,
          ...(error.portalCode ? { portalCode: error.portalCode } : {}),
        };
        const updated: unknown = await tx.query(
          `update sync_entity set state = 'REJECTED', last_error = $5, polls = $6, next_poll_at = null,
             portal_stage = coalesce($7::jsonb, portal_stage), ${ordered}, ${release}
           where ${still} returning 1`,
          [...base, JSON.stringify(lastError), polls, stage],
        );
        if (returnedRows(updated).length === 0) return false;
        await this.writeStatus(tx, row, 'REJECTED', { error: statusError(error, row.desired) });
        this.stats.refused += 1;
        return true;
      }
    }
  }

  /** The AWAITING_RESULT status a "still waiting" answer publishes, if any. */
  private waitingStatus(
    row: Row,
    answer: Extract<PollAnswer, { kind: 'waiting' }>,
    polls: number,
    nextPollAt: Date,
    isFact: boolean,
  ): SyncStatus | undefined {
    const changed = answer.stage && fingerprint(answer.stage) !== fingerprint(row.portal_stage); // jsonb reorders keys
    // A poll sees a notice again at every ask: only a callback (a fact, once) or a new stage publishes it.
    if (!(changed || (isFact && answer.taxNotice)) || row.state !== 'AWAITING_RESULT') return;
    return this.status(row, 'AWAITING_RESULT', {
      awaiting: this.awaiting(row, polls, nextPollAt),
      ...(answer.stage ? { portalStage: this.stage(answer.stage) } : {}),
      ...(answer.taxNotice ? { taxNotice: answer.taxNotice } : {}),
    });
  }

  /** The SYNCED status of a registration whose answer is in. */
  private doneStatus(row: Row, answer: Extract<PollAnswer, { kind: 'done' }>): SyncStatus {
    return this.status(row, 'SYNCED', {
      receipt: {
        reference: row.result_reference.slice(0, 200),
        receivedAt: new Date().toISOString(),
        result: {
          // Resolvable only by the commune that owns the entity, through ingest-gateway.
          resultRef: formatResultRef(
            this.options.pushTarget.domain,
            row.entity_key,
            row.source_sequence,
          ),
          ...(answer.published ?? {}),
        },
      },
      ...(answer.stage ? { portalStage: this.stage(answer.stage) } : {}),
      ...(answer.taxNotice ? { taxNotice: answer.taxNotice } : {}),
    });
  }

  private awaiting(row: Row, polls: number, nextPollAt: Date): NonNullable<SyncStatus['awaiting']> {
    return {
      since: new Date(row.awaiting_since).toISOString(),
      polls,
      nextPollAt: nextPollAt.toISOString(),
    };
  }

  private stage(stage: PortalStage): NonNullable<SyncStatus['portalStage']> {
    return {
      code: stage.code.slice(0, 50),
      ...(stage.label ? { label: stage.label.slice(0, 200) } : {}),
      at: new Date().toISOString(),
    };
  }

  private subject(row: Row) {
    return {
      entityType: row.entity_type,
      entityKey: row.entity_key,
      communeCode: row.commune_code,
      sequence: Number(row.source_sequence),
      attempt: 1,
    };
  }

  private status(row: Row, state: SyncStatus['state'], extra: Partial<SyncStatus>): SyncStatus {
    return syncStatus(this.options.pushTarget, this.subject(row), state, extra);
  }

  private async writeStatus(
    tx: SqlExecutor,
    row: Row,
    state: SyncStatus['state'],
    extra: Partial<SyncStatus>,
  ): Promise<void> {
    await writeSyncStatus(tx, this.status(row, state, extra));
  }
}
