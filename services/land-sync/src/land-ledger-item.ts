import { EVENT_TYPES } from '@lienthong/contracts';
import type {
  LandFinancialObligationRecorded,
  LandRegistrationReceived,
  LandStatusChanged,
} from '@lienthong/contracts';
import type { ConsumedEvent } from '@lienthong/messaging';
import type { LedgerItem } from '@lienthong/sync-engine';

/**
 * A valid land event as the ledger sees it: the received dossier is a full snapshot of what the
 * registry must hold (keyed by MaHoSoMotCua; sent again after a correction or a supplement); the
 * commune's own records of the dossier's progress and of its tax notice are parts of it, kept in
 * the ledger as the commune's view (the registry is their source: it calls them back).
 */
export function landLedgerItem({ event }: ConsumedEvent): LedgerItem {
  const { envelope } = event;
  const common = {
    eventId: envelope.id,
    source: envelope.source,
    domain: 'land',
    entityType: 'land-registration',
    communeCode: envelope.communeCode as string,
    target: 'land-registry',
    sequence: envelope.sequence as number,
  } as const;
  switch (envelope.type) {
    case EVENT_TYPES.LandRegistrationReceived: {
      const data = event.data as LandRegistrationReceived;
      return {
        ...common,
        entityKey: data.MaHoSoMotCua,
        kind: 'snapshot',
        // The registry calls back by SoBienNhan alone: one dossier per receipt number.
        reference: { field: 'SoBienNhan', value: data.SoBienNhan },
        payload: data,
      };
    }
    case EVENT_TYPES.LandStatusChanged: {
      const data = event.data as LandStatusChanged;
      return {
        ...common,
        entityKey: data.MaHoSoMotCua,
        kind: 'part',
        partKey: `status:${data.TrangThai}:${data.ThoiDiem}`,
        payload: data,
      };
    }
    case EVENT_TYPES.LandFinancialObligationRecorded: {
      const data = event.data as LandFinancialObligationRecorded;
      return {
        ...common,
        entityKey: data.MaHoSoMotCua,
        kind: 'part',
        partKey: `tax:${data.SoThongBaoThue}`,
        payload: data,
      };
    }
    default:
      // readEvent admits only the topic's types; a new type on the topic needs a mapping here.
      throw new Error(`land-sync has no ledger mapping for ${envelope.type}`);
  }
}
