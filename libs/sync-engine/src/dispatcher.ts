import type { DataSource } from 'typeorm';
import type { SyncStatus } from '@lienthong/contracts';
import { returnedRows } from '@lienthong/persistence';
import { asPortalCallError, retryDelayMs } from '@lienthong/resilience';
import type { PortalCallError } from '@lienthong/resilience';
import type { RetryPolicy } from '@lienthong/resilience';
import { SYNC_STATUS_TOPIC } from './ledger-ingest';
import type { SqlExecutor } from './ledger-ingest';
import { PushFailure } from './push-target.port';
import { Wakeup } from './wakeup';
import type { ClaimedEntity, PushReceipt, PushTarget } from './push-target.port';

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
  /** Unpushed parts in push order (sequence, then key). */
  parts: Array<{ partKey: string; sequence: number; payload: unknown }>;
}

/** A claimed entity and the parts version it was claimed at (ledger bookkeeping, not for adapters). */
type Claimed = ClaimedEntity & { partsVersion: number };

export interface DispatchStats {
  synced: number;
  retrying: number;
  rejected: number;
  waitingOnBreaker: number;
}

/**
 * Dispatch (design.md, step 2): claims due ledger rows with FOR UPDATE SKIP LOCKED and a lease (one
 * push per entity in flight; several instances share the work), pushes the latest desired state
 * and the missing parts, and records the outcome with its sync.status outbox row in one transaction.
 */
export class Dispatcher {
  readonly stats: DispatchStats = { synced: 0, retrying: 0, rejected: 0, waitingOnBreaker: 0 };
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup: Wakeup;

  constructor(private readonly options: DispatcherOptions) {
    this.wakeup = options.wakeup ?? new Wakeup();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pool();
  }

  /**
   * The worker pool: whenever push slots are free (and the breaker is closed), claim that many due
   * rows and start their pushes; then wait for a slot to free, for work committed in this process,
   * or `idleMs` (work committed by other instances is found by that poll).
   */
  private async pool(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const report =
      this.options.onError ??
      ((e: unknown) => process.stderr.write(`dispatcher round failed: ${String(e)}\n`));
    while (this.running) {
      const free = this.options.concurrency - inFlight.size;
      if (free > 0 && !this.options.pushTarget.breakerOpen()) {
        const claimed = await this.claim(free).catch((err: unknown) => {
          report(err);
          return [];
        });
        for (const entity of claimed) {
          const push: Promise<void> = this.pushOne(entity)
            .catch(report)
            .finally(() => {
              inFlight.delete(push);
              this.wakeup.notify();
            });
          inFlight.add(push);
        }
        // Everything free was filled: there may be more due; go round once a slot frees.
        if (claimed.length === free) {
          await Promise.race(inFlight);
          continue;
        }
      }
      if (this.running) await this.wakeup.wait(this.options.idleMs);
    }
    await Promise.all(inFlight);
  }

  /** Stops claiming and waits for the pushes in flight to be recorded (graceful shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }

  /** One round (tests, tools): claim up to `concurrency` due rows and push them all. Returns how many. */
  async runOnce(): Promise<number> {
    if (this.options.pushTarget.breakerOpen()) return 0;
    const claimed = await this.claim(this.options.concurrency);
    await Promise.all(claimed.map((entity) => this.pushOne(entity)));
    return claimed.length;
  }

  /**
   * Claims up to `limit` due rows and reads their unpushed parts in one statement: the parts come
   * from the same snapshot as `parts_version`, and a claim costs one round trip.
   */
  private async claim(limit: number): Promise<Claimed[]> {
    const { dataSource, owner, leaseMs, pushTarget } = this.options;
    const rows = await dataSource.query<Row[]>(
      `with claimed as (
         update sync_entity e set lease_owner = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000)
         from (
           -- A lease still set on a due row belonged to a worker that died mid-push: uncertain too.
           select entity_type, entity_key, lease_until is not null or portal_uncertain as uncertain from sync_entity
           where target = $3 and state in ('PENDING', 'RETRYING') and next_attempt_at <= now()
             and (lease_until is null or lease_until < now())
           order by next_attempt_at
           limit $4
           for update skip locked
         ) due
         where e.entity_type = due.entity_type and e.entity_key = due.entity_key
         returning e.entity_type, e.entity_key, e.commune_code, e.source_sequence, e.desired, e.desired_fingerprint, e.synced_fingerprint, e.attempts, due.uncertain, e.parts_version
       )
       select c.*, coalesce((
         select json_agg(json_build_object('partKey', p.part_key, 'sequence', p.source_sequence, 'payload', p.payload)
                         order by p.source_sequence, p.part_key)
         from sync_entity_part p
         where p.entity_type = c.entity_type and p.entity_key = c.entity_key and p.pushed_at is null
       ), '[]'::json) as parts
       from claimed c`,
      [owner, leaseMs, pushTarget.target, limit],
    );
    return rows.map((r) => ({
      entityType: r.entity_type,
      entityKey: r.entity_key,
      communeCode: r.commune_code,
      sourceSequence: Number(r.source_sequence),
      desired: r.desired,
      desiredFingerprint: r.desired_fingerprint,
      ...(r.synced_fingerprint ? { syncedFingerprint: r.synced_fingerprint } : {}),
      attempts: r.attempts,
      uncertain: r.uncertain,
      partsVersion: r.parts_version,
      parts: r.parts.map((p) => ({ ...p, sequence: Number(p.sequence) })),
    }));
  }

  private async pushOne(entity: Claimed): Promise<void> {
    const correlationId = `${entity.entityType}:${entity.entityKey}:${entity.sourceSequence}:${entity.attempts + 1}`;
    // The lease is renewed while the push runs, so only a dead worker's lease ever expires: a slow
    // portal (timeouts, in-process retries, many step chunks) never lets a second worker in.
    const renewal = setInterval(
      () => void this.renewLease(entity).catch((err: unknown) => this.options.onError?.(err)),
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    // Renewal goes on until the outcome is recorded (recording checks the lease is still ours).
    try {
      const receipt = await this.options.pushTarget.push(entity, correlationId);
      await this.recordSuccess(entity, receipt);
    } catch (err) {
      const failure = err instanceof PushFailure ? err.cause : asPortalCallError(err);
      const pushedParts = err instanceof PushFailure ? err.pushedParts : [];
      await this.recordFailure(entity, failure, pushedParts);
    } finally {
      clearInterval(renewal);
    }
    this.options.onRecorded?.();
  }

  private async renewLease(entity: ClaimedEntity): Promise<void> {
    await this.options.dataSource.query(
      `update sync_entity set lease_until = now() + make_interval(secs => $4::double precision / 1000)
       where entity_type = $1 and entity_key = $2 and lease_owner = $3`,
      [entity.entityType, entity.entityKey, this.options.owner, this.options.leaseMs],
    );
  }

  private status(
    entity: ClaimedEntity,
    state: SyncStatus['state'],
    extra: Partial<SyncStatus> = {},
  ): SyncStatus {
    return {
      entity: {
        domain: this.options.pushTarget.domain,
        type: entity.entityType,
        key: entity.entityKey,
        communeCode: entity.communeCode,
      },
      state,
      sequence: entity.sourceSequence,
      attempt: entity.attempts + 1,
      target: this.options.pushTarget.target,
      occurredAt: new Date().toISOString(),
      ...extra,
    };
  }

  private async writeStatus(tx: SqlExecutor, status: SyncStatus): Promise<void> {
    await tx.query('insert into outbox (topic, message_key, payload) values ($1, $2, $3)', [
      SYNC_STATUS_TOPIC,
      `${status.entity.domain}:${status.entity.key}`,
      JSON.stringify(status),
    ]);
  }

  private async markParts(
    tx: SqlExecutor,
    entity: ClaimedEntity,
    partKeys: string[],
  ): Promise<void> {
    if (partKeys.length === 0) return;
    await tx.query(
      `update sync_entity_part set pushed_at = now() where entity_type = $1 and entity_key = $2 and part_key = any($3::text[])`,
      [entity.entityType, entity.entityKey, partKeys],
    );
  }

  private async recordSuccess(entity: Claimed, receipt: PushReceipt): Promise<void> {
    await this.options.dataSource.transaction(async (tx) => {
      await this.markParts(tx, entity, receipt.pushedParts);
      // The row may have a newer desired state (ingest went on during the push): then it stays PENDING.
      const updated: unknown = await tx.query(
        `update sync_entity set
           synced_fingerprint = $3, receipt = $4, attempts = 0, last_error = null, lease_owner = null, lease_until = null, portal_uncertain = false,
           state = case when desired_fingerprint = $3 and parts_version = $6 and not exists (
             select 1 from sync_entity_part p where p.entity_type = $1 and p.entity_key = $2 and p.pushed_at is null)
             then 'SYNCED' else 'PENDING' end,
           next_attempt_at = now(), updated_at = now()
         where entity_type = $1 and entity_key = $2 and lease_owner = $5
         returning state, greatest(source_sequence, (
           select max(p.source_sequence) from sync_entity_part p
           where p.entity_type = $1 and p.entity_key = $2 and p.pushed_at is not null)) as reflected_sequence`,
        [
          entity.entityType,
          entity.entityKey,
          entity.desiredFingerprint,
          JSON.stringify(receipt),
          this.options.owner,
          entity.partsVersion,
        ],
      );
      const row = returnedRows<{ state: string; reflected_sequence: string }>(updated)[0];
      if (row?.state === 'SYNCED') {
        await this.writeStatus(
          tx,
          this.status(entity, 'SYNCED', {
            // The newest source event the portal now reflects: the header's or a later step's.
            sequence: Number(row.reflected_sequence),
            receipt: {
              ...(receipt.reference ? { reference: receipt.reference } : {}),
              receivedAt: new Date().toISOString(),
              ...(receipt.result ? { result: receipt.result } : {}),
            },
          }),
        );
        this.stats.synced += 1;
      }
    });
  }

  private async recordFailure(
    entity: ClaimedEntity,
    error: PortalCallError,
    pushedParts: string[],
  ): Promise<void> {
    await this.options.dataSource.transaction(async (tx) => {
      await this.markParts(tx, entity, pushedParts);
      const lastError = {
        code: error.code,
        class: error.outcome === 'permanent' ? 'permanent' : 'retriable',
        message: error.portalMessage || error.message,
        ...(error.portalCode ? { portalCode: error.portalCode } : {}),
      } as const;
      if (error.outcome === 'breaker-open') {
        // Not an attempt: the portal was not called. The row waits for the breaker, nothing is lost.
        await tx.query(
          `update sync_entity set lease_owner = null, lease_until = null, next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
           where entity_type = $1 and entity_key = $2 and lease_owner = $4`,
          [entity.entityType, entity.entityKey, this.options.idleMs, this.options.owner],
        );
        this.stats.waitingOnBreaker += 1;
        return;
      }
      if (error.outcome === 'permanent') {
        await tx.query(
          `update sync_entity set state = 'REJECTED', last_error = $3, attempts = attempts + 1, lease_owner = null, lease_until = null, updated_at = now()
           where entity_type = $1 and entity_key = $2 and lease_owner = $4`,
          [entity.entityType, entity.entityKey, JSON.stringify(lastError), this.options.owner],
        );
        await this.writeStatus(tx, this.status(entity, 'REJECTED', { error: lastError }));
        this.stats.rejected += 1;
        return;
      }
      const delay = retryDelayMs(this.options.retry, entity.attempts + 1, error);
      const nextAttemptAt = new Date(Date.now() + delay);
      await tx.query(
        `update sync_entity set state = 'RETRYING', last_error = $3, attempts = attempts + 1, next_attempt_at = $4, lease_owner = null, lease_until = null, portal_uncertain = true, updated_at = now()
         where entity_type = $1 and entity_key = $2 and lease_owner = $5`,
        [
          entity.entityType,
          entity.entityKey,
          JSON.stringify(lastError),
          nextAttemptAt,
          this.options.owner,
        ],
      );
      await this.writeStatus(
        tx,
        this.status(entity, 'RETRYING', {
          error: lastError,
          nextAttemptAt: nextAttemptAt.toISOString(),
        }),
      );
      this.stats.retrying += 1;
    });
  }
}
