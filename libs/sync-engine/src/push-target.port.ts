import type { PortalCallError } from '@lienthong/resilience';
import type { SyncStatusV2 as SyncStatus } from '@lienthong/contracts';

/**
 * The claim a push runs under. A lease is fenced by a token drawn for this claim alone: another
 * worker that took the row over (this one was too slow, or lost its database connection), or a
 * second process started with the same instance id, holds another token, and every write of this
 * push's outcome checks it.
 */
export interface Lease {
  /** Aborted as soon as this worker knows the lease is lost. */
  readonly signal: AbortSignal;
  /**
   * Renews the lease in the database and throws LeaseLostError if it is no longer ours. Adapters
   * call it before each write to the portal (each chunk of steps), so a worker that lost its lease
   * stops between chunks instead of pushing what the new holder pushes too. With `sending`, it
   * records in the same statement that these parts are about to be written (write-ahead): if the
   * outcome is then lost, the next attempt knows they may be at the portal already. The push's
   * first write with nothing to mark is confirmed by the claim itself while the claim is young
   * (a third of the lease): the lease cannot have run out yet, so no round trip is made.
   */
  confirm(sending?: string[]): Promise<void>;
  /**
   * Records at once that the portal took these parts (not only when the whole push ends), so a
   * crash after this chunk does not send it again. Throws LeaseLostError if the lease is gone.
   */
  pushed(partKeys: string[]): Promise<void>;
}

/** The lease of a claimed row is no longer this worker's: stop, record nothing. */
export class LeaseLostError extends Error {
  constructor(entityKey: string) {
    super(`lease on ${entityKey} was lost; another worker holds it now`);
    this.name = 'LeaseLostError';
  }
}

/** A ledger row claimed for a push: the latest desired state and the parts not yet pushed. */
export interface ClaimedEntity {
  entityType: SyncStatus['entity']['type'];
  entityKey: string;
  communeCode: string;
  sourceSequence: number;
  desired: unknown;
  desiredFingerprint: string;
  /** What the portal last confirmed; undefined before the first success. */
  syncedFingerprint?: string;
  attempts: number;
  /**
   * The portal may hold part of this change already: an earlier attempt failed in an unknown way
   * (a timeout after the portal applied it) or a crashed worker's lease expired mid-push. The
   * adapter must then look at what the portal holds before writing, so nothing lands twice.
   */
  uncertain: boolean;
  /**
   * In source order. `sends`: how often the part went to the portal with an outcome unknown (a
   * timeout, a crash): above 0, the portal may hold it already.
   */
  parts: Array<{ partKey: string; sequence: number; payload: unknown; sends: number }>;
  lease: Lease;
}

export interface PushReceipt {
  reference?: string;
  result?: NonNullable<SyncStatus['receipt']>['result'];
  /** Part keys the portal now holds. */
  pushedParts: string[];
  /**
   * Two-phase targets: the portal accepted the submission and answers later. The entity waits
   * (AWAITING_RESULT) and is polled with this reference until the answer comes.
   */
  awaiting?: {
    reference: string;
    /**
     * The first poll after this long instead of the target's usual wait: the portal may have
     * answered already and will not say so again (a submission sent again after a repair).
     */
    pollAfterMs?: number;
  };
}

/** An entity whose portal accepted it and has not answered yet. */
export interface AwaitingEntity {
  entityType: SyncStatus['entity']['type'];
  entityKey: string;
  communeCode: string;
  sourceSequence: number;
  /** What the portal gave back when it accepted the submission. */
  reference: string;
  polls: number;
  awaitingSince: Date;
  desired: unknown;
}

/** The portal's own stage of an entity, as it names it. */
export interface PortalStage {
  code: string;
  label?: string;
}

/** What a poll (or a portal's callback) learned about one awaiting entity. */
export type PollAnswer = (
  | {
      kind: 'waiting';
      stage?: PortalStage;
      /** A notice the portal issued on the way (a land dossier's tax notice): published as is. */
      taxNotice?: SyncStatus['taxNotice'];
      /**
       * Ask the portal now instead of at the next scheduled poll: a callback that says "finished"
       * without the whole result (the poll reads it).
       */
      pollNow?: boolean;
    }
  | {
      kind: 'supplement';
      requestedAt: string;
      /** RFC 3339 date or date-time, or null when the portal gives none. */
      deadline: string | null;
      note?: string;
      stage?: PortalStage;
    }
  | {
      kind: 'done';
      /** The whole answer, kept in the ledger (it may hold personal data). */
      result: unknown;
      /** What may be published (no personal data): the register entry. */
      published?: Omit<NonNullable<NonNullable<SyncStatus['receipt']>['result']>, 'resultRef'>;
      /** A notice issued on the way, published with the result (it may have been missed before). */
      taxNotice?: SyncStatus['taxNotice'];
      stage?: PortalStage;
    }
  | { kind: 'refused'; error: PortalCallError; stage?: PortalStage }
) & {
  /**
   * When the portal says this happened, if it says: an answer older than one already recorded
   * is stale and changes nothing (callbacks arrive late and out of order).
   */
  at?: Date;
};

/** A field in which the portal's copy differs from the ledger's (its name only, never a value). */
export interface DriftField {
  field: string;
  kind: 'changed' | 'missing-at-portal' | 'unexpected-at-portal';
}

/** An entity the reconciler asks the portal about: what the ledger says the portal holds. */
export interface InspectedEntity {
  entityType: SyncStatus['entity']['type'];
  entityKey: string;
  communeCode: string;
  /** The state the ledger says the portal holds (the last one it confirmed). */
  desired: unknown;
  /** The portal's reference of a two-phase entity. */
  reference?: string;
  /** The answer the portal gave a two-phase entity, as the ledger kept it. */
  result?: unknown;
}

/**
 * What the portal holds of an entity, compared with the ledger after the same mapping the push
 * uses: `missing` (the portal lacks it) or `held` with the fields that differ (none: a match).
 */
export type Inspection = { kind: 'missing' } | { kind: 'held'; drift: DriftField[] };

/**
 * A push that failed part-way: the parts the portal already took are recorded, so the next attempt
 * sends only the rest (a step pushed twice would be a second effect at the portal).
 */
export class PushFailure extends Error {
  constructor(
    override readonly cause: PortalCallError | LeaseLostError,
    readonly pushedParts: string[],
    /**
     * Parts marked as being sent (Lease.confirm) whose call was never made, e.g. a chunk's lease
     * confirmed while the header was written, and the header failed: their marks are taken back.
     */
    readonly unsentParts: string[] = [],
  ) {
    super(cause.message, { cause });
    this.name = 'PushFailure';
  }
}

/**
 * The port a domain adapter implements (dossier → DVCQG, birth → civil-status registry, …): push
 * one entity's latest state and its missing parts through the portal client. It throws
 * PushFailure, PortalCallError or LeaseLostError; the error code's class (ERROR_CLASS) decides
 * retry, REJECTED, a hold of the whole target, or waiting.
 */
export abstract class PushTarget {
  /**
   * Two-phase targets only: what the portal says now about entities awaiting its answer, keyed by
   * entity key (a key left out is still waiting). Called with at most `pollBatch` entities.
   */
  poll?(entities: AwaitingEntity[], correlationId: string): Promise<Map<string, PollAnswer>>;
  /**
   * How many awaiting entities one `poll` may carry: the portal's limit per call, or more when the
   * target splits them into several calls itself (a portal asked per province and kind).
   */
  readonly pollBatch?: number;
  /**
   * Reconciliation: what the portal holds of each entity, keyed by entity key (a key left out
   * could not be asked: checked again later). Reads only, through the target's gateway.
   */
  inspect?(entities: InspectedEntity[], correlationId: string): Promise<Map<string, Inspection>>;
  /**
   * How many entities one `inspect` call may carry. A page's calls are made together; the
   * gateway's bulkhead and rate limiter bound them.
   */
  readonly inspectBatch?: number;

  abstract readonly target: SyncStatus['target'];
  abstract readonly domain: SyncStatus['entity']['domain'];
  abstract push(entity: ClaimedEntity, correlationId: string): Promise<PushReceipt>;
  /**
   * True while a push now would not reach the portal (breaker open, Retry-After running, target
   * held): the dispatcher then claims nothing for it.
   */
  abstract blocked(): boolean;
}
