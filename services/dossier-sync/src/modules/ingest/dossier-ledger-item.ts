import { EVENT_TYPES } from '@lienthong/contracts';
import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import type { ConsumedEvent } from '@lienthong/messaging';
import type { LedgerItem } from '@lienthong/sync-engine';

/**
 * A valid dossier event as the ledger sees it: a header is a full snapshot of the dossier's
 * desired state; a processing step is a part (stable id MaBuocXuLy) to append once.
 * The envelope was validated against the contract: commune code and sequence are present.
 */
export function dossierLedgerItem({ event }: ConsumedEvent): LedgerItem {
  const { envelope } = event;
  const common = {
    eventId: envelope.id,
    source: envelope.source,
    domain: 'dossier',
    entityType: 'dossier',
    communeCode: envelope.communeCode as string,
    target: 'dvcqg',
    sequence: envelope.sequence as number,
  } as const;
  if (envelope.type === EVENT_TYPES.DossierUpserted) {
    const data = event.data as DossierUpserted;
    return { ...common, entityKey: data.MaHoSo, kind: 'snapshot', payload: data };
  }
  if (envelope.type === EVENT_TYPES.DossierProgressStep) {
    const data = event.data as DossierProgressStep;
    return {
      ...common,
      entityKey: data.MaHoSo,
      kind: 'part',
      partKey: data.MaBuocXuLy,
      payload: data,
    };
  }
  // readEvent admits only the topic's types; a new type on the topic needs a mapping here.
  throw new Error(`dossier-sync has no ledger mapping for ${envelope.type}`);
}
