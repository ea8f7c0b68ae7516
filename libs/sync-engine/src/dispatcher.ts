import type { DataSource } from 'typeorm';
import type { SyncStatusV2 as SyncStatus } from '@lienthong/contracts';
import { GroupCommit, jsonList, prepared, returnedRows } from '@lienthong/persistence';
import { asPortalCallError, retryDelayMs, surelyNotApplied } from '@lienthong/resilience';
import type { PortalCallError } from '@lienthong/resilience';
import type { RetryPolicy } from '@lienthong/resilience';
import type { SqlExecutor } from './ledger-ingest';
import { LeaseLostError, PushFailure } from './push-target.port';
import type { ClaimedEntity, Lease, PushReceipt, PushTarget } from './push-target.port';
import { statusError } from './status-error';
import { entityRowKey, heldLeases, lockHeldLeases, rowKey } from './held-leases';
import {
  SYNC_STATUS_TOPIC,
  syncStatus,
  writeRepairedIfDrifted,
  writeSyncStatus,
} from './sync-status';
import type { DriftMark } from './sync-status';
import { Wakeup } from './wakeup';

export interface DispatcherOptions {
  dataSource: DataSource;
  pushTarget: PushTarget;
  /** This worker's name in leases (service instance id). */
  owner: string;
  retry: RetryPolicy;
  /**
   * How long a claim lasts without renewal. A push renews it every leaseMs / 3, so it expires only
   * when its worker died; then another worker reclaims the row (as uncertain) after at most this.
   */
  leaseMs: number;
  /**
   * Pushes in flight at once for this target (on top of the gateway's bulkhead). Rows are claimed
   * only for free push slots, so a lease starts when its push starts: a claimed row never waits
   * in a local queue while its lease runs out (another instance would reclaim it and push it too).
   */
  concurrency: number;
  /** Wait when nothing is due, or while the breaker is open. */
  idleMs: number;
  /** Cuts the idle wait short when this process just committed work (see Wakeup). */
  wakeup?: Wakeup;
  /** Called after each outcome is committed (with its outbox row): e.g. wake the relay. */
  onRecorded?: () => void;
  /** A round that failed (database trouble): reported, then the loop goes on after `idleMs`. */
  onError?: (err: unknown) => void;
  /** Two-phase targets: the first poll of an accepted submission comes this long after (default 1 s). */
  firstPollMs?: number;
  /** The monotonic clock leases are timed on, in ms (default performance.now; tests move it). */
  clock?: () => number;
}

interface Row {
  entity_type: ClaimedEntity['entityType'];
  entity_key: string;
  commune_code: string;
  source_sequence: string;
  desired: unknown;
  desired_fingerprint: string;
  synced_fingerprint: string | null;
  attempts: number;
  uncertain: boolean;
  parts_version: number;
  lease_token: string;
  /** Unpushed parts in push order (sequence, then key). */
  parts: Array<{ partKey: string; sequence: number; payload: unknown; sends: number }>;
}

/** A claimed entity with its ledger bookkeeping (not for adapters). */
type Claimed = ClaimedEntity & { partsVersion: number; token: string; lease: TokenLease };

/** A lease to renew, with the parts about to be sent (marked only while the lease is ours). */
interface Renewal {
  entityType: string;
  entityKey: string;
  token: string;
  sending: string[];
}

/** A push the portal took, to record. */
interface Success {
  entity: Claimed;
  receipt: PushReceipt;
}

export interface DispatchStats {
  synced: number;
  retrying: number;
  rejected: number;
  /** Not attempted: the portal was not called (breaker open, target held or paused) or the target was held. */
  waitingOnBreaker: number;
  /** Pushes whose lease was taken over before their outcome was recorded: nothing was written. */
  leaseLost: number;
  /** Accepted by a two-phase portal: the answer comes later (AWAITING_RESULT). */
  awaiting: number;
}

/**
 * The lease of one claim: renewed in the background and before each portal write, fenced by its
 * token. Times are read on the monotonic clock (performance.now()): a wall clock stepped by NTP
 * must neither end a lease early nor stretch it.
 */
class TokenLease implements Lease {
  private readonly lost = new AbortController();
  /** Until when this worker may trust the lease without asking (local clock, from the last renewal). */
  private validUntil: number;
  /**
   * Until when the claim itself vouches for the push's first portal write (see confirm): a third
   * of the lease after the claim started, the interval of the background renewal.
   */
  private claimVouchesUntil: number;
  /** The parts this push marked as being sent (renewals with `sending`). */
  readonly marked = new Set<string>();

  constructor(
    private readonly renew: (sending: string[]) => Promise<boolean>,
    private readonly markPushed: (partKeys: string[]) => Promise<boolean>,
    private readonly entityKey: string,
    private readonly leaseMs: number,
    claimedAt: number,
    private readonly clock: () => number,
  ) {
    this.validUntil = claimedAt + leaseMs;
    this.claimVouchesUntil = claimedAt + leaseMs / 3;
  }

  get signal(): AbortSignal {
    return this.lost.signal;
  }

  /** Renews in the database: ours (and extended), lost (another token holds it), or unknown (no answer). */
  private async renewNow(sending: string[] = []): Promise<'ours' | 'lost' | 'unknown'> {
    const startedAt = this.clock();
    try {
      if (!(await this.renew(sending))) return 'lost';
      for (const k of sending) this.marked.add(k);
      this.validUntil = startedAt + this.leaseMs;
      return 'ours';
    } catch {
      return 'unknown';
    }
  }

  /** Background renewal: a failed query is not proof of loss, but time running out is. */
  async tick(): Promise<void> {
    if (this.lost.signal.aborted) return;
    const outcome = await this.renewNow();
    if (outcome === 'lost' || this.clock() >= this.validUntil)
      this.lost.abort(new LeaseLostError(this.entityKey));
  }

  /**
   * Before a portal write, a confirmed renewal, with one exception: the push's first write with
   * nothing to mark as being sent, while the claim is young. The database gives a row to another
   * worker only once its lease ran out, a whole lease after the claim's statement began, and this
   * worker took its time before sending that statement: so within a third of the lease on its own
   * clock, the lease cannot have been taken over, and asking would only add a round trip (and a
   * group commit's wait) before every new registration's call. Every later write asks.
   */
  async confirm(sending: string[] = []): Promise<void> {
    const vouched = sending.length === 0 && this.clock() < this.claimVouchesUntil;
    this.claimVouchesUntil = 0;
    if (!this.lost.signal.aborted && (vouched || (await this.renewNow(sending)) === 'ours')) return;
    this.lost.abort(new LeaseLostError(this.entityKey));
    throw new LeaseLostError(this.entityKey);
  }

  async pushed(partKeys: string[]): Promise<void> {
    if (partKeys.length === 0 || (await this.markPushed(partKeys))) return;
    this.lost.abort(new LeaseLostError(this.entityKey));
    throw new LeaseLostError(this.entityKey);
  }
}

/**
 * Takes back this push's "being sent" marks of parts the portal surely does not hold (their call
 * was refused as a whole, or never made), in the caller's transaction. A mark an earlier attempt
 * made stays: that attempt's call may have landed.
 */
async function unmarkParts(
  tx: SqlExecutor,
  entity: { entityType: string; entityKey: string },
  partKeys: string[],
): Promise<void> {
  if (partKeys.length === 0) return;
  await tx.query(
    `update sync_entity_part set sends = greatest(sends - 1, 0),
       sent_at = case when sends > 1 then sent_at end
     where entity_type = $1 and entity_key = $2 and part_key = any($3::text[])
       and pushed_at is null and sends > 0`,
    [entity.entityType, entity.entityKey, partKeys],
  );
}

/** Marks parts the portal took as pushed, in the caller's transaction (under the rows' locks). */
async function markParts(
  tx: SqlExecutor,
  parts: Array<{ entityType: string; entityKey: string; partKey: string }>,
): Promise<void> {
  if (parts.length === 0) return;
  await tx.query(
    prepared(`update sync_entity_part p set pushed_at = now()
     from unnest($1::text[], $2::text[], $3::text[]) as i(entity_type, entity_key, part_key)
     where p.entity_type = i.entity_type and p.entity_key = i.entity_key and p.part_key = i.part_key`),
    [parts.map((p) => p.entityType), parts.map((p) => p.entityKey), parts.map((p) => p.partKey)],
  );
}

/** In RECORD_ONE and RECORD_BATCH: part `p` is among those the statement marks pushed. */
const MARKED_NOW = `exists (select 1 from marking m where m.entity_type = p.entity_type
  and m.entity_key = p.entity_key and m.part_key = p.part_key)`;

/**
 * Whether an entity's push is complete: the state pushed is still the desired one and no part is
 * left unpushed (the parts the statement marks now count as pushed: same snapshot).
 */
const COMPLETE = `e.desired_fingerprint = i.fingerprint and e.parts_version = i.parts_version
  and not exists (select 1 from sync_entity_part p
    where p.entity_type = e.entity_type and p.entity_key = e.entity_key and p.pushed_at is null
      and not ${MARKED_NOW})`;

/** The new state of an entity a push completed, and its receipt (RECORD_ONE, RECORD_BATCH). */
const SUCCESS_SET = `synced_fingerprint = i.fingerprint, receipt = i.receipt, attempts = 0, last_error = null,
   lease_owner = null, lease_until = null, lease_token = null, portal_uncertain = false,
   state = case when ${COMPLETE} then i.done_state else 'PENDING' end,
   -- Still the same submission at the portal (only parts were pushed): the wait goes on.
   awaiting_since = case when i.awaiting and ${COMPLETE} then
     case when e.result_reference = i.reference then coalesce(e.awaiting_since, now()) else now() end
     else null end,
   polls = case when i.awaiting and e.result_reference = i.reference then e.polls else 0 end,
   -- A push that awaits nothing (an amendment after the result) keeps the result.
   result = case when i.awaiting and e.result_reference is distinct from i.reference then null else e.result end,
   result_reference = coalesce(i.reference, e.result_reference), supplement = null,
   next_poll_at = case when i.awaiting and ${COMPLETE}
     then now() + make_interval(secs => i.poll_ms / 1000) else null end,
   next_attempt_at = now(), updated_at = now()`;

/** The pushes recorded, $1–$10 (successParams). */
const SUCCESS_INPUT = `rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::uuid[]), unnest($4::text[]),
             jsonb_array_elements($5::jsonb), unnest($6::integer[]), unnest($7::text[]), unnest($8::boolean[]),
             unnest($9::text[]), unnest($10::double precision[]))`;
const SUCCESS_COLUMNS = `entity_type, entity_key, token, fingerprint, receipt, parts_version, done_state, awaiting, reference, poll_ms`;

/** The parts the portal took ($11–$13), of the rows held. */
const MARK_PARTS = `marking as (
   select m.entity_type, m.entity_key, m.part_key
   from unnest($11::text[], $12::text[], $13::text[]) as m(entity_type, entity_key, part_key)
   join held h on h.entity_type = m.entity_type and h.entity_key = m.entity_key
 ), marked as (
   update sync_entity_part p set pushed_at = now() from marking m
   where p.entity_type = m.entity_type and p.entity_key = m.entity_key and p.part_key = m.part_key
 )`;

/** The newest source event the portal now reflects: the header's or a pushed step's. */
const REFLECTED_SEQUENCE = `greatest(e.source_sequence, (
     select max(p.source_sequence) from sync_entity_part p
     where p.entity_type = e.entity_type and p.entity_key = e.entity_key
       and (p.pushed_at is not null or ${MARKED_NOW})
   ))`;

/** A timestamp as JavaScript's toISOString() writes it (the statuses' format). */
const isoTime = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Records successful pushes under their leases (`held`: the rows still held, see heldLeases):
 * marks the parts the portal took and sets each row's new state. `recorded` holds those rows, each
 * with the status it publishes: the push's status as the dispatcher built it ($14), completed
 * with what the row's new state decides (the sequence the portal now reflects and, for a wait, its
 * times); none when the row stays PENDING (parts still missing, or a newer state arrived).
 */
const recordSuccessesSql = (held: string) => `with held as (${held}), ${MARK_PARTS},
 updated as (
   update sync_entity e set ${SUCCESS_SET}
   from ${SUCCESS_INPUT} with ordinality as i(${SUCCESS_COLUMNS}, n)
   join held h on h.entity_type = i.entity_type and h.entity_key = i.entity_key
   join jsonb_array_elements($14::jsonb) with ordinality as s(status, n) on s.n = i.n
   where e.entity_type = i.entity_type and e.entity_key = i.entity_key and e.lease_token = i.token
   returning e.entity_type, e.entity_key, e.state, e.drift_detected, e.awaiting_since,
     e.next_poll_at, i.n, s.status as built, ${REFLECTED_SEQUENCE} as reflected_sequence
 ), recorded as (
   select u.*, case
     when state = 'SYNCED' then built || jsonb_build_object('sequence', reflected_sequence)
     when state = 'AWAITING_RESULT' and awaiting_since is not null then built || jsonb_build_object(
       'sequence', reflected_sequence,
       'awaiting', jsonb_build_object('since', ${isoTime('awaiting_since')}, 'polls', 0,
                                      'nextPollAt', ${isoTime('next_poll_at')}))
   end as status
   from updated u
 )`;

/**
 * Records one successful push, in the caller's transaction, waiting for its row's lock; the caller
 * writes the status it returns and a drift repair (recordOneSuccess).
 */
const RECORD_ONE = prepared(`${recordSuccessesSql(heldLeases(true))}
 select entity_type, entity_key, state, drift_detected, reflected_sequence, status from recorded`);

/**
 * Records a batch of successful pushes and their sync.status events in one statement: one round
 * trip, where a transaction took four (begin, the rows, the outbox, commit). It skips a row another
 * writer holds (heldLeases) and writes the statuses as one outbox row. A row reconciliation marked
 * as drifted is skipped like a locked one: it is recorded alone (RECORD_ONE), in a transaction that
 * also publishes its repair.
 */
const RECORD_BATCH = prepared(`${recordSuccessesSql(heldLeases(false, 'e.drift_detected is null'))},
 published as (
   insert into outbox (topic, message_key, payload, statuses)
   select $15, '', jsonb_agg(status order by n), count(*) from recorded where status is not null
   having count(*) > 0
 )
 select entity_type, entity_key, state from recorded`);

/** A claimed row, or (entity_type null) the walk's end alone when the claim took nothing. */
interface ClaimRow {
  /** The last commune the walk looked at, and whether it stopped at its bound (more may be due). */
  walk_end: string;
  walk_cut: boolean;
  /** The claimed row's commune's place in the walk (1 = first commune with due rows). */
  walk_turn: number;
  entity_type: Row['entity_type'] | null;
  commune_code: string;
}

/** At most this many communes looked at by one claim, due or not (each one index probe). */
const WALK_STEPS = 256;

/** Claims in a row when walks stop at their bound: 16 × WALK_STEPS covers 3,321 communes. */
const MAX_CHAINED_CLAIMS = 16;

/** Pending rows of the target: the partial index sync_entity_due_commune. */
const PENDING_OF_TARGET = `target = $3 and state in ('PENDING', 'RETRYING')`;

/** A commune's oldest pending row is due, and no operator paused the commune (commune_pause). */
const HEAD_DUE = `next_attempt_at <= now()
    and not exists (select 1 from commune_pause p where p.commune_code = sync_entity.commune_code)`;

/**
 * The next commune with pending rows after a code, and whether it has due work (HEAD_DUE): one
 * probe of sync_entity_due_commune (target, commune_code, next_attempt_at). Wraps to the first
 * commune once.
 */
const nextCommune = (after: string, wrap: string) => `(
   (select commune_code as code, ${HEAD_DUE} as due from sync_entity
    where ${PENDING_OF_TARGET} and commune_code > ${after} order by commune_code, next_attempt_at limit 1)
   union all
   (select commune_code, ${HEAD_DUE} from sync_entity
    where ${PENDING_OF_TARGET} and ${wrap} order by commune_code, next_attempt_at limit 1)
   limit 1)`;

/**
 * The claim (Dispatcher.claim). $1 owner, $2 lease ms, $3 target, $4 limit (also the communes
 * with due rows to walk), $5 the cursor (walk starts after it), $6 communes to walk at most.
 * `walk`: the communes in code order after the cursor, then (wrapped) from the first one up to
 * the cursor; `turn` counts those with due work (their oldest pending row is due and they are not
 * paused: paused communes cost a probe, not a place in the walk). `candidates`: up to $4 due rows of
 * each, in turns (every commune's oldest, then every one's second, …). Only the first candidates
 * (four times the limit: slack for rows a concurrent claim holds locked) are joined back to lock
 * them: the planner cannot know how many rows a recursive query yields, guessed a hundred
 * communes and, for all their candidates, chose to read the whole table (24 ms a claim on a
 * backlog of 10,000 dossiers, 4 ms with the limit). They are joined back by the row's address
 * (ctid, a TID scan), which no statistics can turn into a scan: a prepared statement, the claim
 * keeps the generic plan its connection made at first use, often on an empty table, where every
 * index looks alike; joined back by key, such a plan walked an index of the whole backlog for each
 * candidate (74 ms a claim, `npm run bench:claim`). Within the statement the address is stable:
 * a row updated since the snapshot is locked in its newest version and its conditions checked
 * again, as with any FOR UPDATE. A lease still set on a due row belonged to a worker that died
 * mid-push: uncertain too. The walk's end comes with every row, and alone (with no entity) when
 * nothing was claimed.
 */
const CLAIM = prepared(`with recursive walk(code, due, turn, steps, wrapped) as (
   select h.code, h.due, h.due::int, 1, h.code <= $5
   from ${nextCommune('$5', 'true')} h
   union all
   select h.code, h.due, w.turn + h.due::int, w.steps + 1, w.wrapped or h.code <= w.code
   from walk w cross join lateral ${nextCommune('w.code', 'not w.wrapped')} h
   where w.turn < $4 and w.steps < $6
     and not ((w.wrapped or h.code <= w.code) and h.code > $5)
 ), candidates as (
   select d.row_at, w.turn as walk_turn,
          row_number() over (partition by w.code order by d.next_attempt_at, d.entity_key) as turn
   from walk w cross join lateral (
     select ctid as row_at, entity_key, next_attempt_at from sync_entity
     where ${PENDING_OF_TARGET} and commune_code = w.code
       and next_attempt_at <= now() and (lease_until is null or lease_until < now())
     order by next_attempt_at limit $4
   ) d
   where w.due
   order by turn, w.turn
   limit $4 * 4
 ), due as (
   select e.entity_type, e.entity_key, c.walk_turn, e.lease_until is not null or e.portal_uncertain as uncertain
   from candidates c join sync_entity e on e.ctid = c.row_at
   where e.state in ('PENDING', 'RETRYING') and e.next_attempt_at <= now()
     and (e.lease_until is null or e.lease_until < now())
   order by c.turn, c.walk_turn
   limit $4
   for update of e skip locked
 ), claimed as (
   update sync_entity e set lease_owner = $1, lease_token = gen_random_uuid(),
     lease_until = now() + make_interval(secs => $2::double precision / 1000)
   from due
   where e.entity_type = due.entity_type and e.entity_key = due.entity_key
   returning e.entity_type, e.entity_key, e.commune_code, e.source_sequence, e.desired, e.desired_fingerprint,
     e.synced_fingerprint, e.attempts, due.uncertain, due.walk_turn, e.parts_version, e.lease_token
 ), walked as (
   select code as walk_end, turn >= $4 or steps >= $6 as walk_cut from walk order by steps desc limit 1
 )
 select w.walk_end, w.walk_cut, c.*, coalesce((
   select json_agg(json_build_object('partKey', p.part_key, 'sequence', p.source_sequence, 'payload', p.payload, 'sends', p.sends)
                   order by p.source_sequence, p.part_key)
   from sync_entity_part p
   where p.entity_type = c.entity_type and p.entity_key = c.entity_key and p.pushed_at is null
 ), '[]'::json) as parts
 from walked w left join claimed c on true`);

/**
 * Dispatch (docs/architecture.md, step 2): claims due ledger rows with FOR UPDATE SKIP LOCKED and a lease (one
 * push per entity in flight; several instances share the work), pushes the latest desired state
 * and the missing parts, and records the outcome with its sync.status outbox row atomically.
 */
export class Dispatcher {
  readonly stats: DispatchStats = {
    synced: 0,
    retrying: 0,
    rejected: 0,
    waitingOnBreaker: 0,
    leaseLost: 0,
    awaiting: 0,
  };
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup: Wakeup;
  private readonly clock: () => number;
  /** The commune code the next claim's walk starts after (see claim). */
  private cursor = '';
  /** The last claim filled every free slot or stopped short of the communes still to walk. */
  private backlog = false;
  /**
   * Lease renewals and outcomes of concurrent pushes are written in batches (group commit): one
   * statement renews many leases, one statement records many outcomes with their statuses. Every
   * row is still fenced by its own lease token. A push used to cost about six round trips and two
   * commits of its own.
   */
  private readonly renewals: GroupCommit<Renewal, boolean>;
  private readonly successes: GroupCommit<Success, string | undefined>;

  constructor(private readonly options: DispatcherOptions) {
    this.wakeup = options.wakeup ?? new Wakeup();
    this.clock = options.clock ?? (() => performance.now());
    this.renewals = new GroupCommit((batch) => this.renewLeases(batch, false), options.concurrency);
    this.successes = new GroupCommit((batch) => this.recordSuccesses(batch), options.concurrency);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pool();
  }

  /**
   * The worker pool: whenever push slots are free (and the breaker is closed), claim that many due
   * rows and start their pushes; then wait for work committed in this process (ingest's notify, or
   * a finished push whose entity is due again: see pushOne), or `idleMs` (work committed by other
   * instances is found by that poll). A full pool waits for a quarter of its slots instead.
   */
  private async pool(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let chained = 0;
    const report =
      this.options.onError ??
      ((e: unknown) => process.stderr.write(`dispatcher round failed: ${String(e)}\n`));
    while (this.running) {
      const free = this.options.concurrency - inFlight.size;
      if (free > 0 && !this.options.pushTarget.blocked()) {
        const { rows: claimed, more } = await this.claim(free).catch((err: unknown) => {
          report(err);
          return { rows: [], more: false };
        });
        this.backlog = claimed.length === free || more;
        for (const entity of claimed) {
          const push: Promise<void> = this.pushOne(entity)
            .catch((err: unknown) => {
              report(err);
              return true;
            })
            .then((dueAgain) => {
              inFlight.delete(push);
              if (dueAgain) this.wakeup.notify();
            });
          inFlight.add(push);
        }
        // Everything free was filled: there may be more due. A claim costs about the same for one
        // row as for many (it was the dispatcher's most expensive statement, pg_stat_statements
        // under bench:dossier), so under a backlog the next claim waits until a quarter of the
        // slots are free. Claimed rows still start at once: none waits unpushed while its lease
        // runs.
        if (claimed.length === free) {
          chained = 0;
          const refill = Math.max(1, Math.floor(this.options.concurrency / 4));
          do await Promise.race(inFlight);
          while (
            this.running &&
            inFlight.size > 0 &&
            this.options.concurrency - inFlight.size < refill
          );
          continue;
        }
        // The walk stopped at its bound with slots still free: the communes after it may have due
        // rows. A few claims in a row go round every commune (WALK_STEPS each, at most).
        if (more && chained < MAX_CHAINED_CLAIMS) {
          chained += 1;
          continue;
        }
      }
      chained = 0;
      if (this.running) await this.wakeup.wait(this.options.idleMs);
    }
    await Promise.all(inFlight);
  }

  /**
   * True while due rows may be waiting for a push slot: the pool's last claim filled every free
   * slot (or its walk was cut short), and no claim since has come back short. A result poller
   * yields to it (ResultPoller's `yieldTo`), so that after an outage the portal gets the
   * submissions before the questions about earlier ones.
   */
  backlogged(): boolean {
    return this.running && this.backlog;
  }

  /** Stops claiming and waits for the pushes in flight to be recorded (graceful shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }

  /** One round (tests, tools): claim up to `concurrency` due rows and push them all. Returns how many. */
  async runOnce(): Promise<number> {
    if (this.options.pushTarget.blocked()) return 0;
    const { rows: claimed } = await this.claim(this.options.concurrency);
    await Promise.all(claimed.map((entity) => this.pushOne(entity)));
    return claimed.length;
  }

  /**
   * Claims up to `limit` due rows and reads their unpushed parts in one statement (CLAIM): the
   * parts come from the same snapshot as `parts_version`, and a claim costs one round trip. Claims
   * take turns across communes, walking the communes with due rows in code order from where the
   * last claim stopped (a loose index scan: one index probe per commune) and taking each one's
   * oldest due row, then each one's second, …: one commune's bulk import cannot hold every push
   * slot while others wait, and every commune with due work is reached within one round of the
   * communes, however many there are. A walk stops after `limit` communes with due rows (or
   * WALK_STEPS communes in all), so a claim's cost does not grow with the number of communes: it
   * walked all of them once, 3.7 ms a claim with 24 communes, 7.4 with 168 and 53 with 3,321
   * (`npm run bench:claim`). One commune with due rows per free slot is enough: each offers its
   * oldest due row that is not in flight, and a claim that comes back short goes on at once
   * (below). Walking four times as many, each commune a few index probes, took a claim of 24
   * 8.3–8.6 ms with 168 communes, against 3.5–4.7 now (test/bench/RESULTS.md, 2026-12-07).
   * The cursor moves past the last commune served, or past the whole walk when the claim took
   * everything it found; a walk cut short with slots still free is reported as `more` and the pool
   * claims again at once.
   * A commune an operator paused (commune_pause) has none of its rows claimed. A prepared
   * statement (prepared.ts): planning it took 3.2–3.4 ms of its 9–10 ms in bench:dossier; every
   * step of its plan is an index probe or a TID scan, whatever the statistics were when it was made.
   */
  private async claim(limit: number): Promise<{ rows: Claimed[]; more: boolean }> {
    const { dataSource, leaseMs, pushTarget } = this.options;
    const claimedAt = this.clock();
    const result = await dataSource.query<ClaimRow[]>(CLAIM, [
      this.options.owner,
      leaseMs,
      pushTarget.target,
      limit,
      this.cursor,
      WALK_STEPS,
    ]);
    const rows = result.filter((r): r is ClaimRow & Row => r.entity_type !== null);
    const full = rows.length > 0 && rows.length === limit;
    // Full: the communes after the last one served wait for the next claim. Otherwise everything
    // the walk found was taken (or held by another claim): the next one starts past it.
    this.cursor = full
      ? rows.reduce((a, r) => (r.walk_turn > a.walk_turn ? r : a)).commune_code
      : (result[0]?.walk_end ?? '');
    const more = !full && result[0]?.walk_cut === true;
    return { rows: rows.map((r) => this.claimed(r, claimedAt)), more };
  }

  private claimed(r: Row, claimedAt: number): Claimed {
    const { leaseMs } = this.options;
    const key = { entityType: r.entity_type, entityKey: r.entity_key };
    return {
      ...key,
      communeCode: r.commune_code,
      sourceSequence: Number(r.source_sequence),
      desired: r.desired,
      desiredFingerprint: r.desired_fingerprint,
      ...(r.synced_fingerprint ? { syncedFingerprint: r.synced_fingerprint } : {}),
      attempts: r.attempts,
      uncertain: r.uncertain,
      partsVersion: r.parts_version,
      token: r.lease_token,
      parts: r.parts.map((p) => ({ ...p, sequence: Number(p.sequence) })),
      lease: new TokenLease(
        (sending) => this.renewLease({ ...key, token: r.lease_token, sending }),
        (partKeys) => this.markPushed(key.entityType, key.entityKey, r.lease_token, partKeys),
        r.entity_key,
        leaseMs,
        claimedAt,
        this.clock,
      ),
    };
  }

  /**
   * Pushes one claimed entity and records the outcome. True when the pool should look for due rows
   * again at once: the entity is due again (a newer state or part arrived during the push), or the
   * push failed. Not after a push recorded as done or awaiting: a wake-up per finished push made
   * a claim per two or three pushes at 500 events/s, most finding nothing new (the claim is the
   * dispatcher's costliest statement); new rows wake the pool through ingest's notify.
   */
  private async pushOne(entity: Claimed): Promise<boolean> {
    const correlationId = `${entity.entityType}:${entity.entityKey}:${entity.sourceSequence}:${entity.attempts + 1}`;
    // The lease is renewed while the push runs, so only a dead (or cut off) worker's lease ever
    // expires: a slow portal never lets a second worker in. Renewal goes on until the outcome is
    // recorded, and recording checks the lease token.
    const renewal = setInterval(
      () => void entity.lease.tick(),
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    let dueAgain = true;
    try {
      let recorded: boolean;
      try {
        const receipt = await this.options.pushTarget.push(entity, correlationId);
        const state = await this.recordSuccess(entity, receipt);
        recorded = state !== undefined;
        dueAgain = state === 'PENDING';
      } catch (err) {
        const cause = err instanceof PushFailure ? err.cause : err;
        if (cause instanceof LeaseLostError) recorded = false;
        else {
          const failure = asPortalCallError(cause);
          const { pushedParts = [], unsentParts = [] } = err instanceof PushFailure ? err : {};
          recorded = await this.recordFailure(entity, failure, pushedParts, unsentParts);
        }
      }
      if (!recorded) this.stats.leaseLost += 1;
    } finally {
      clearInterval(renewal);
    }
    this.options.onRecorded?.();
    return dueAgain;
  }

  /**
   * True when the lease is still this claim's (and now extended). The parts about to be sent are
   * marked in the same statement, only while the lease is ours (write-ahead, see Lease.confirm).
   * Renewals of concurrent pushes share a statement; one that batch could not take (the row was
   * locked by another writer that moment, or the lease is lost) is tried alone, waiting for the lock.
   */
  private async renewLease(renewal: Renewal): Promise<boolean> {
    if (await this.renewals.submit(renewal).catch(() => false)) return true;
    return (await this.renewLeases([renewal], true))[0] === true;
  }

  /** Renews the leases still held by their tokens: true for each one renewed. */
  private async renewLeases(batch: Renewal[], wait: boolean): Promise<boolean[]> {
    const sending = batch.flatMap((r) => r.sending.map((partKey) => ({ ...r, partKey })));
    const rows = await this.options.dataSource.query<
      Array<{ entity_type: string; entity_key: string }>
    >(
      prepared(`with held as (${heldLeases(wait)}), lease as (
         update sync_entity e set lease_until = now() + make_interval(secs => $4::double precision / 1000)
         from held h where e.entity_type = h.entity_type and e.entity_key = h.entity_key
         returning e.entity_type, e.entity_key
       ), sending as (
         update sync_entity_part p set sent_at = now(), sends = p.sends + 1
         from held h, unnest($5::text[], $6::text[], $7::text[]) as s(entity_type, entity_key, part_key)
         where s.entity_type = h.entity_type and s.entity_key = h.entity_key
           and p.entity_type = s.entity_type and p.entity_key = s.entity_key and p.part_key = s.part_key
           and p.pushed_at is null
         returning 1
       )
       -- A data-modifying CTE runs whether or not it is read.
       select entity_type, entity_key from lease`),
      [
        batch.map((r) => r.entityType),
        batch.map((r) => r.entityKey),
        batch.map((r) => r.token),
        this.options.leaseMs,
        sending.map((s) => s.entityType),
        sending.map((s) => s.entityKey),
        sending.map((s) => s.partKey),
      ],
    );
    const ours = new Set(rows.map(rowKey));
    return batch.map((r) => ours.has(entityRowKey(r)));
  }

  /** Marks parts the portal took, while the lease is this claim's; false when it is not. */
  private async markPushed(
    entityType: string,
    entityKey: string,
    token: string,
    partKeys: string[],
  ): Promise<boolean> {
    const rows = await this.options.dataSource.query<Array<{ ours: boolean }>>(
      prepared(`with lease as (
         select 1 from sync_entity where entity_type = $1 and entity_key = $2 and lease_token = $3
         for update
       ), marked as (
         update sync_entity_part set pushed_at = now()
         where entity_type = $1 and entity_key = $2 and part_key = any($4::text[])
           and pushed_at is null and exists (select 1 from lease)
         returning 1
       )
       select exists (select 1 from lease) as ours`),
      [entityType, entityKey, token, partKeys],
    );
    return rows[0]?.ours === true;
  }

  private status(
    entity: ClaimedEntity,
    state: SyncStatus['state'],
    extra: Partial<SyncStatus> = {},
  ): SyncStatus {
    const subject = { ...entity, sequence: entity.sourceSequence, attempt: entity.attempts + 1 };
    return syncStatus(this.options.pushTarget, subject, state, extra);
  }

  /**
   * Records a push the portal took, in a statement shared with the other pushes finishing now.
   * One the batch could not take (another writer held its row that moment, or reconciliation had
   * marked it drifted) is recorded alone. Its row's new state, or undefined when the lease was lost.
   */
  private async recordSuccess(entity: Claimed, receipt: PushReceipt): Promise<string | undefined> {
    const batched = await this.successes.submit({ entity, receipt }).catch(() => undefined);
    if (batched !== undefined) return batched;
    return this.recordOneSuccess({ entity, receipt });
  }

  /** $1–$13 of RECORD_ONE and RECORD_BATCH: the pushes, and the parts the portal took. */
  private successParams(batch: Success[]): unknown[] {
    const pushed = batch.flatMap((s) =>
      s.receipt.pushedParts.map((partKey) => ({ ...s.entity, partKey })),
    );
    return [
      batch.map((s) => s.entity.entityType),
      batch.map((s) => s.entity.entityKey),
      batch.map((s) => s.entity.token),
      batch.map((s) => s.entity.desiredFingerprint),
      jsonList(batch.map((s) => s.receipt)),
      batch.map((s) => s.entity.partsVersion),
      batch.map((s) => (s.receipt.awaiting ? 'AWAITING_RESULT' : 'SYNCED')),
      batch.map((s) => s.receipt.awaiting !== undefined),
      batch.map((s) => s.receipt.awaiting?.reference ?? null),
      batch.map((s) => s.receipt.awaiting?.pollAfterMs ?? this.options.firstPollMs ?? 1000),
      pushed.map((p) => p.entityType),
      pushed.map((p) => p.entityKey),
      pushed.map((p) => p.partKey),
    ];
  }

  /**
   * The status a successful push publishes, but for what the row's new state decides: SYNCED, or
   * AWAITING_RESULT when a two-phase portal accepted it (recordSuccessesSql adds the sequence the
   * portal now reflects and, for a wait, its times).
   */
  private successStatus({ entity, receipt }: Success): SyncStatus {
    const reference = receipt.awaiting?.reference ?? receipt.reference;
    const acknowledged = {
      ...(reference ? { reference: reference.slice(0, 200) } : {}),
      receivedAt: new Date().toISOString(),
    };
    return receipt.awaiting
      ? this.status(entity, 'AWAITING_RESULT', { receipt: acknowledged })
      : this.status(entity, 'SYNCED', {
          receipt: { ...acknowledged, ...(receipt.result ? { result: receipt.result } : {}) },
        });
  }

  /**
   * Records successful pushes under their leases and their statuses, in one statement
   * (RECORD_BATCH). Per push: its row's new state when recorded, undefined when the batch skipped
   * its row (locked by another writer that moment, marked drifted, or its lease lost:
   * recordOneSuccess tells).
   */
  private async recordSuccesses(batch: Success[]): Promise<Array<string | undefined>> {
    const rows = await this.options.dataSource.query<
      Array<{ entity_type: string; entity_key: string; state: string }>
    >(RECORD_BATCH, [
      ...this.successParams(batch),
      jsonList(batch.map((s) => this.successStatus(s))),
      SYNC_STATUS_TOPIC,
    ]);
    for (const row of rows) this.count(row.state);
    const recorded = new Map(rows.map((row) => [rowKey(row), row.state]));
    return batch.map((s) => recorded.get(entityRowKey(s.entity)));
  }

  /**
   * Records one successful push under its lease, waiting for its row's lock, in a transaction: the
   * row and its status (RECORD_ONE) and, if reconciliation had found it drifted, the repair. Its new
   * state, or undefined when its lease was lost (another worker holds the row now and writes its
   * own outcome).
   */
  private async recordOneSuccess(success: Success): Promise<string | undefined> {
    const { entity } = success;
    const state = await this.options.dataSource.transaction(async (tx) => {
      const row = returnedRows<{
        state: string;
        reflected_sequence: string;
        drift_detected: DriftMark | null;
        status: SyncStatus | null;
      }>(
        await tx.query(RECORD_ONE, [
          ...this.successParams([success]),
          jsonList([this.successStatus(success)]),
        ]),
      )[0];
      if (!row) return undefined;
      if (row.status) await writeSyncStatus(tx, row.status);
      if (row.state === 'SYNCED')
        await writeRepairedIfDrifted(tx, this.options.pushTarget, row.drift_detected, {
          ...entity,
          sequence: Number(row.reflected_sequence),
          attempt: entity.attempts + 1,
        });
      return row.state;
    });
    this.count(state);
    return state;
  }

  /** Counts a recorded outcome's new state in the dispatcher's stats. */
  private count(state: string | undefined): void {
    if (state === 'SYNCED') this.stats.synced += 1;
    else if (state === 'AWAITING_RESULT') this.stats.awaiting += 1;
  }

  /**
   * Records a failed push, only while this claim holds the lease. A permanent rejection rejects
   * only what was pushed: if a newer desired state or a new part arrived during the push, the
   * entity stays due and the newer state is pushed. A hold or a deferral is not an attempt.
   */
  private async recordFailure(
    entity: Claimed,
    error: PortalCallError,
    pushedParts: string[],
    unsentParts: string[],
  ): Promise<boolean> {
    return this.options.dataSource.transaction(async (tx) => {
      // Every outcome is written under the row's lock while this claim holds its lease, or not at
      // all (another worker holds the row now and will write its own).
      if ((await lockHeldLeases(tx, [entity], true)).size === 0) return false;
      await markParts(
        tx,
        pushedParts.map((partKey) => ({ ...entity, partKey })),
      );
      // What this push marked and the portal surely does not hold (the call that failed was refused
      // as a whole, or was never made): sending it again is no duplicate. The parts it took were
      // marked pushed just above, and an unmark leaves them alone; a part the adapter names as
      // unsent but this push never marked (its renewal failed) keeps its mark.
      const { marked } = entity.lease;
      await unmarkParts(
        tx,
        entity,
        surelyNotApplied(error) ? [...marked] : unsentParts.filter((k) => marked.has(k)),
      );
      const key = [entity.entityType, entity.entityKey, entity.token];
      const lastError = {
        code: error.code,
        class: error.outcome,
        message: error.message,
        ...(error.portalMessage ? { portalMessage: error.portalMessage } : {}),
        ...(error.portalCode ? { portalCode: error.portalCode } : {}),
      };
      switch (error.outcome) {
        case 'deferred':
        case 'hold': {
          // The portal was not called, or nothing is wrong with this entity (credentials, endpoint):
          // the row waits for the target, nothing is counted against it.
          await tx.query(
            `update sync_entity set lease_owner = null, lease_until = null, lease_token = null,
               next_attempt_at = now() + make_interval(secs => $4::double precision / 1000)
             where entity_type = $1 and entity_key = $2 and lease_token = $3`,
            [...key, this.options.idleMs],
          );
          this.stats.waitingOnBreaker += 1;
          return true;
        }
        case 'permanent': {
          const updated: unknown = await tx.query(
            `update sync_entity set
               state = case when desired_fingerprint = $5 and parts_version = $6 then 'REJECTED' else 'PENDING' end,
               next_attempt_at = now(), last_error = $4, attempts = attempts + 1,
               lease_owner = null, lease_until = null, lease_token = null, updated_at = now()
             where entity_type = $1 and entity_key = $2 and lease_token = $3
             returning state`,
            [...key, JSON.stringify(lastError), entity.desiredFingerprint, entity.partsVersion],
          );
          if (returnedRows<{ state: string }>(updated)[0]?.state === 'REJECTED') {
            await writeSyncStatus(
              tx,
              this.status(entity, 'REJECTED', { error: statusError(error, entity.desired) }),
            );
            this.stats.rejected += 1;
          }
          return true;
        }
        case 'retriable': {
          const delay = retryDelayMs(this.options.retry, entity.attempts + 1, error);
          const nextAttemptAt = new Date(Date.now() + delay);
          await tx.query(
            `update sync_entity set state = 'RETRYING', last_error = $4, attempts = attempts + 1, next_attempt_at = $5,
               lease_owner = null, lease_until = null, lease_token = null, portal_uncertain = true, updated_at = now()
             where entity_type = $1 and entity_key = $2 and lease_token = $3`,
            [...key, JSON.stringify(lastError), nextAttemptAt],
          );
          await writeSyncStatus(
            tx,
            this.status(entity, 'RETRYING', {
              error: statusError(error, entity.desired),
              nextAttemptAt: nextAttemptAt.toISOString(),
            }),
          );
          this.stats.retrying += 1;
          return true;
        }
      }
    });
  }
}
