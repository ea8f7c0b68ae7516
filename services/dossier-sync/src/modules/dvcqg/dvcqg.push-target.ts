import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import {
  STEPS_PER_CALL,
  fromWireHeader,
  fromWireStep,
  toWireHeader,
  toWireStep,
} from '@lienthong/portal-clients';
import type { DvcqgClient, DvcqgDossier } from '@lienthong/portal-clients';
import { asPortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import { LeaseLostError, PushFailure, PushTarget, fingerprint } from '@lienthong/sync-engine';
import type { ClaimedEntity, PushReceipt } from '@lienthong/sync-engine';

/** A header or step as DVCQG would hand it back, so ours and the portal's compare equal. */
const asPortalHolds = {
  header: (h: DossierUpserted) => fingerprint(fromWireHeader(toWireHeader(h))),
  step: (s: DossierProgressStep) => fingerprint(fromWireStep(toWireStep(s))),
};

/**
 * Dossier → DVCQG: pushes the latest header (insert or update) and then the steps not yet pushed,
 * ten per call, in source order. What the ledger knows decides whether to look first: a dossier
 * never synced is looked up (insert vs update), and so is one whose last push may have landed
 * unseen (a timeout, a crashed worker) — then a header the portal already holds is not sent
 * again and steps it already holds are recorded as pushed, not appended twice.
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

  blocked(): boolean {
    return this.gateway.blocked();
  }

  async push(entity: ClaimedEntity, correlationId: string): Promise<PushReceipt> {
    const header = entity.desired as DossierUpserted;
    const pushed: string[] = [];
    try {
      let exists = entity.syncedFingerprint !== undefined;
      let portal: DvcqgDossier | undefined;
      if (entity.uncertain || !exists) {
        portal = await this.client.lookup(header.MaHoSo, correlationId);
        exists = portal !== undefined;
      }
      const headerHeld =
        portal !== undefined
          ? fingerprint(portal.header) === asPortalHolds.header(header)
          : entity.syncedFingerprint === entity.desiredFingerprint;
      if (!headerHeld) {
        await entity.lease.confirm();
        await this.client.sendHeader(header, exists, correlationId);
      }

      let steps = entity.parts;
      if (portal) {
        // Steps carry no id at DVCQG: count the portal's copies of each and skip that many of ours.
        const held = new Map<string, number>();
        for (const s of portal.steps) {
          const k = fingerprint(s);
          held.set(k, (held.get(k) ?? 0) + 1);
        }
        steps = steps.filter((part) => {
          const k = asPortalHolds.step(part.payload as DossierProgressStep);
          const n = held.get(k) ?? 0;
          if (n === 0) return true;
          held.set(k, n - 1);
          pushed.push(part.partKey);
          return false;
        });
      }
      for (let i = 0; i < steps.length; i += STEPS_PER_CALL) {
        const chunk = steps.slice(i, i + STEPS_PER_CALL);
        // A worker that lost its lease stops here: the new holder pushes the rest, once.
        await entity.lease.confirm();
        await this.client.pushSteps(
          chunk.map((p) => p.payload as DossierProgressStep),
          correlationId,
        );
        pushed.push(...chunk.map((p) => p.partKey));
      }
    } catch (err) {
      throw new PushFailure(err instanceof LeaseLostError ? err : asPortalCallError(err), pushed);
    }
    return { reference: header.MaHoSo, pushedParts: pushed };
  }
}
