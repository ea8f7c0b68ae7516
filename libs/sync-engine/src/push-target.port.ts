import type { PortalCallError } from '@lienthong/resilience';
import type { SyncStatus } from '@lienthong/contracts';

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
  /** In source order. */
  parts: Array<{ partKey: string; sequence: number; payload: unknown }>;
}

export interface PushReceipt {
  reference?: string;
  result?: NonNullable<SyncStatus['receipt']>['result'];
  /** Part keys the portal now holds. */
  pushedParts: string[];
}

/**
 * A push that failed part-way: the parts the portal already took are recorded, so the next attempt
 * sends only the rest (a step pushed twice would be a second effect at the portal).
 */
export class PushFailure extends Error {
  constructor(
    override readonly cause: PortalCallError,
    readonly pushedParts: string[],
  ) {
    super(cause.message, { cause });
    this.name = 'PushFailure';
  }
}

/**
 * The port a domain adapter implements (dossier → DVCQG, birth → civil-status registry, …): push
 * one entity's latest state and its missing parts through the portal client. It throws
 * PushFailure or PortalCallError; their classification decides retry, REJECTED or waiting.
 */
export abstract class PushTarget {
  abstract readonly target: SyncStatus['target'];
  abstract readonly domain: SyncStatus['entity']['domain'];
  abstract push(entity: ClaimedEntity, correlationId: string): Promise<PushReceipt>;
  /** True while the portal's breaker is open: the dispatcher then claims nothing for it. */
  abstract breakerOpen(): boolean;
}
