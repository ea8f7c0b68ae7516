import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import { STEPS_PER_CALL, fromWireHeader, toWireHeader } from '@lienthong/portal-clients';
import type { DvcqgClient, DvcqgDossier } from '@lienthong/portal-clients';
import { asPortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import {
  LeaseLostError,
  PushFailure,
  PushTarget,
  driftFields,
  fingerprint,
  inspectEach,
} from '@lienthong/sync-engine';
import type {
  ClaimedEntity,
  InspectedEntity,
  Inspection,
  PushReceipt,
} from '@lienthong/sync-engine';

/** A header as DVCQG would hand it back (dates, codes), so ours and the portal's compare equal. */
const asPortalHolds = (h: DossierUpserted) => fromWireHeader(toWireHeader(h));

/**
 * Dossier → DVCQG: pushes the latest header (insert or update) and then the steps not yet pushed,
 * ten per call, in source order. A dossier never synced is inserted (an insert answered "đã tồn
 * tại" is re-sent as an update); one whose last push may have landed unseen (a timeout, a crashed
 * worker, a reconciliation repair or re-sync) is looked up first: a header the portal already
 * holds is not sent again.
 *
 * DVCQG returns no processing steps on lookup, so the ledger is the record of which steps were
 * pushed: each chunk is marked as being sent before the call and as pushed right after it (the
 * last one by the transaction that records the push's outcome). A chunk
 * whose outcome was lost (the call timed out, the worker died between the two marks) cannot be
 * checked at the portal; it is sent again — a missing step in a citizen's dossier history is worse
 * than a repeated one — and counted (`lienthong_sync_parts_possibly_duplicated`).
 */
export class DvcqgPushTarget extends PushTarget {
  readonly target = 'dvcqg' as const;
  readonly domain = 'dossier' as const;

  constructor(
    private readonly client: DvcqgClient,
    private readonly gateway: PortalGateway,
  ) {
    super();
  }

  override readonly inspectBatch = 10;

  blocked(): boolean {
    return this.gateway.blocked();
  }

  /**
   * Reconciliation: DVCQG's copy of each header, compared field by field with ours in the form the
   * portal gives back (dates, codes). Steps cannot be compared: DVCQG does not return them.
   */
  override async inspect(
    entities: InspectedEntity[],
    correlationId: string,
  ): Promise<Map<string, Inspection>> {
    return inspectEach(entities, async (e) => {
      const held = await this.client.lookup(e.entityKey, correlationId);
      return held
        ? {
            kind: 'held',
            drift: driftFields(asPortalHolds(e.desired as DossierUpserted), held.header),
          }
        : { kind: 'missing' };
    });
  }

  async push(entity: ClaimedEntity, correlationId: string): Promise<PushReceipt> {
    const header = entity.desired as DossierUpserted;
    const pushed: string[] = [];
    /** Steps marked as being sent whose call was never made (the header failed first). */
    let unsent: string[] = [];
    try {
      let exists = entity.syncedFingerprint !== undefined;
      let portal: DvcqgDossier | undefined;
      // A dossier never pushed is inserted without a lookup: DVCQG answers "đã tồn tại" if it
      // holds it (another system sent it), and the client re-sends that as an update, as public
      // integrations do. One call fewer per new dossier (bench:dossier).
      if (entity.uncertain) {
        portal = await this.client.lookup(header.MaHoSo, correlationId);
        exists = portal !== undefined;
      }
      const headerHeld =
        portal !== undefined
          ? fingerprint(portal.header) === fingerprint(asPortalHolds(header))
          : entity.syncedFingerprint === entity.desiredFingerprint;
      /** The first chunk's lease confirmation, when it was asked while the header was written. */
      let firstConfirmed: Promise<void> | undefined;
      if (!headerHeld) {
        await entity.lease.confirm();
        // The first chunk's renewal and write-ahead mark go to the database while the header goes
        // to DVCQG: they still answer before the steps are sent, and the push waits one round
        // trip less.
        const first = entity.parts.slice(0, STEPS_PER_CALL).map((p) => p.partKey);
        if (first.length > 0) {
          firstConfirmed = entity.lease.confirm(first);
          firstConfirmed.catch(() => undefined);
        }
        try {
          await this.client.sendHeader(header, exists, correlationId);
        } catch (err) {
          // The steps never went: their mark is taken back, once it is written.
          await firstConfirmed?.catch(() => undefined);
          unsent = first;
          throw err;
        }
      }
      for (let i = 0; i < entity.parts.length; i += STEPS_PER_CALL) {
        const chunk = entity.parts.slice(i, i + STEPS_PER_CALL);
        const keys = chunk.map((p) => p.partKey);
        // A worker that lost its lease stops here: the new holder pushes the rest.
        await (i === 0 && firstConfirmed ? firstConfirmed : entity.lease.confirm(keys));
        await this.client.pushSteps(
          chunk.map((p) => p.payload as DossierProgressStep),
          correlationId,
        );
        pushed.push(...keys);
        // The last chunk is marked pushed by the transaction that records the outcome, right
        // after (one commit fewer per push, measured in bench:dossier). A crash in between leaves
        // it marked as being sent: sent again and counted, as after a crash during the call.
        if (i + STEPS_PER_CALL < entity.parts.length) await entity.lease.pushed(keys);
      }
    } catch (err) {
      throw new PushFailure(
        err instanceof LeaseLostError ? err : asPortalCallError(err),
        pushed,
        unsent,
      );
    }
    return { reference: header.MaHoSo, pushedParts: pushed };
  }
}
