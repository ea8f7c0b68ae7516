import { EVENT_TYPES } from '@lienthong/contracts';
import type {
  BirthRegistered,
  DeathRegistered,
  MarriageRegistered,
  RegistrationAmended,
} from '@lienthong/contracts';
import type { ConsumedEvent } from '@lienthong/messaging';
import { fingerprint } from '@lienthong/sync-engine';
import type { LedgerItem } from '@lienthong/sync-engine';

type Registration = BirthRegistered | DeathRegistered | MarriageRegistered;

const SNAPSHOTS: Record<string, LedgerItem['entityType']> = {
  [EVENT_TYPES.BirthRegistered]: 'birth',
  [EVENT_TYPES.DeathRegistered]: 'death',
  [EVENT_TYPES.MarriageRegistered]: 'marriage',
};
const AMENDED: Record<RegistrationAmended['loaiDangKy'], LedgerItem['entityType']> = {
  KS: 'birth',
  KT: 'death',
  KH: 'marriage',
};

/**
 * A valid civil-status event as the ledger sees it: a registration is a full snapshot of what the
 * registry must hold (keyed by maDinhDanhHoSo); an amendment is a part of the registration it
 * amends, identified by its content (the same amendment sent again under another event id is the
 * same amendment), sent to the registry once, after the registration.
 */
export function civilStatusLedgerItem({ event }: ConsumedEvent): LedgerItem {
  const { envelope } = event;
  const common = {
    eventId: envelope.id,
    source: envelope.source,
    domain: 'civil-status',
    communeCode: envelope.communeCode as string,
    target: 'civil-status-registry',
    sequence: envelope.sequence as number,
  } as const;
  const type = SNAPSHOTS[envelope.type];
  if (type) {
    const data = event.data as Registration;
    return {
      ...common,
      entityType: type,
      entityKey: data.maDinhDanhHoSo,
      kind: 'snapshot',
      payload: data,
    };
  }
  if (envelope.type === EVENT_TYPES.RegistrationAmended) {
    const data = event.data as RegistrationAmended;
    return {
      ...common,
      entityType: AMENDED[data.loaiDangKy],
      entityKey: data.maDinhDanhHoSo,
      kind: 'part',
      partKey: `CC-${fingerprint(data).slice(0, 24)}`,
      payload: data,
    };
  }
  // readEvent admits only the topic's types; a new type on the topic needs a mapping here.
  throw new Error(`civil-status-sync has no ledger mapping for ${envelope.type}`);
}
