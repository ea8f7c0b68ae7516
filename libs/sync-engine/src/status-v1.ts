import { SCHEMAS } from '@lienthong/contracts';
import type { SyncStatus, SyncStatusV2 } from '@lienthong/contracts';

/** The states sync.status.v1 can carry (its schema's list): any other goes out on v2 only. */
export const V1_STATES: ReadonlySet<string> = new Set(
  (
    SCHEMAS.find((s) => s.$id === 'sync/sync-status.v1.schema.json') as unknown as {
      properties: { state: { enum: string[] } };
    }
  ).properties.state.enum,
);

/** The fields of sync.status.v2 that v1 has no place for (dropped by asV1). */
export const V2_ONLY_FIELDS = ['awaiting', 'supplement', 'portalStage', 'taxNotice'] as const;

/**
 * The v1 form of a status, or undefined when v1 cannot express it: the v2-only fields and the
 * result reference dropped (the status itself when it has none of them). Of a status valid
 * under sync.status.v2 it is valid under v1 (every field it keeps has the same rules in both
 * schemas; status-v1.spec.ts derives v1 from v2 and fails when the schemas part), so the relay
 * validates a status once, as v2.
 */
export function asV1(status: SyncStatusV2): SyncStatus | undefined {
  if (!V1_STATES.has(status.state)) return undefined;
  // Nothing to drop (most statuses: ACCEPTED, SYNCED without a result): the status itself.
  if (
    V2_ONLY_FIELDS.every((field) => status[field] === undefined) &&
    status.receipt?.result?.resultRef === undefined
  )
    return status as SyncStatus;
  const { awaiting: _a, supplement: _s, portalStage: _p, taxNotice: _t, receipt, ...rest } = status;
  if (!receipt) return rest as SyncStatus;
  const { result, ...receiptRest } = receipt;
  if (!result) return { ...rest, receipt: receiptRest } as SyncStatus;
  const { resultRef: _r, ...resultRest } = result;
  return { ...rest, receipt: { ...receiptRest, result: resultRest } } as SyncStatus;
}
