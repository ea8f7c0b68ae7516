import type { SyncStatusV2 } from '@lienthong/contracts';
import { maskText } from '@lienthong/observability';

/** Where one entity's sync stands, as its statuses said (a row of `entity_state`). */
export interface EntityState {
  domain: string;
  entityKey: string;
  entityType: string;
  communeCode: string;
  provinceCode: string;
  state: string;
  sequence: number;
  lastEventAt: string;
  syncedAt: string | null;
  /** When the oldest change not yet at the portal was accepted (null: nothing waiting). */
  unsyncedSince: string | null;
  driftOpen: boolean;
  driftCount: number;
  repairedCount: number;
}

/** States in which a change waits for the portal: the backlog. */
export const BACKLOG_STATES = [
  'ACCEPTED',
  'RETRYING',
  'AWAITING_RESULT',
  'SUPPLEMENT_REQUESTED',
  'REJECTED',
] as const;

/**
 * The next state of an entity after one of its statuses. Statuses of one entity arrive in the
 * order they were published (one key, one partition), but two instances may publish close
 * together: a status older than the last one applied still counts (drift found, repaired) and
 * goes on the timeline, and does not move the state back.
 *
 * - SUPERSEDED says an event older than the ledger's was ignored: the state stands.
 * - DRIFT_DETECTED opens a drift (the state stands: the repair is the dispatcher's next push);
 *   REPAIRED closes it and the entity is synced again.
 * - A change waiting for the portal (accepted, retrying, awaiting a result, a supplement asked,
 *   rejected) keeps the time the oldest such change began, so the age of the backlog is the age
 *   of what has waited longest, not of the last retry.
 */
export function foldStatus(
  prev: EntityState | undefined,
  s: SyncStatusV2,
  provinceOf: (communeCode: string) => string,
): EntityState {
  const base: EntityState = prev ?? {
    domain: s.entity.domain,
    entityKey: s.entity.key,
    entityType: s.entity.type,
    communeCode: s.entity.communeCode,
    provinceCode: provinceOf(s.entity.communeCode),
    state: s.state,
    sequence: s.sequence,
    lastEventAt: s.occurredAt,
    syncedAt: null,
    unsyncedSince: null,
    driftOpen: false,
    driftCount: 0,
    repairedCount: 0,
  };
  const next = { ...base };
  if (s.state === 'DRIFT_DETECTED') next.driftCount += 1;
  if (s.state === 'REPAIRED') next.repairedCount += 1;
  const current = prev === undefined || Date.parse(s.occurredAt) >= Date.parse(base.lastEventAt);
  if (!current) return next;
  next.lastEventAt = s.occurredAt;
  next.sequence = Math.max(base.sequence, s.sequence);
  switch (s.state) {
    case 'SUPERSEDED':
      return next;
    case 'DRIFT_DETECTED':
      next.driftOpen = true;
      return next;
    case 'SYNCED':
    case 'REPAIRED':
      next.driftOpen = s.state === 'REPAIRED' ? false : next.driftOpen;
      next.state = 'SYNCED';
      next.syncedAt = s.occurredAt;
      next.unsyncedSince = null;
      return next;
    default:
      next.state = s.state;
      next.unsyncedSince =
        base.state === 'SYNCED' || prev === undefined
          ? s.occurredAt
          : (base.unsyncedSince ?? s.occurredAt);
      return next;
  }
}

/**
 * What the timeline keeps of a status: codes, references, stages, field names, times. Never a
 * payload, and free text (an error message) masked in case a portal echoed personal data.
 */
export function timelineDetail(s: SyncStatusV2): Record<string, unknown> {
  return {
    ...(s.error
      ? {
          error: {
            code: s.error.code,
            class: s.error.class,
            message: maskText(s.error.message),
            ...(s.error.portalCode ? { portalCode: s.error.portalCode } : {}),
          },
        }
      : {}),
    ...(s.drift ? { drift: s.drift } : {}),
    ...(s.receipt?.reference ? { receipt: s.receipt.reference } : {}),
    ...(s.awaiting ? { awaiting: { since: s.awaiting.since, polls: s.awaiting.polls } } : {}),
    ...(s.portalStage ? { portalStage: s.portalStage } : {}),
    ...(s.supplement
      ? { supplement: { requestedAt: s.supplement.requestedAt, deadline: s.supplement.deadline } }
      : {}),
    ...(s.taxNotice
      ? { taxNotice: { reference: s.taxNotice.reference, kind: s.taxNotice.kind } }
      : {}),
    ...(s.nextAttemptAt ? { nextAttemptAt: s.nextAttemptAt } : {}),
    ...(s.causationId ? { causationId: s.causationId } : {}),
  };
}
