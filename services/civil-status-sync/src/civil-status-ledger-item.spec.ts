import { ContractValidator, EVENT_TYPES, TOPICS, readEvent } from '@lienthong/contracts';
import type { EncodedRecord } from '@lienthong/contracts';
import type { ConsumedEvent } from '@lienthong/messaging';
import {
  Rng,
  birthRegistered,
  deathRegistered,
  marriageRegistered,
  registrationAmended,
  toRecord,
} from '@lienthong/testing';
import { civilStatusLedgerItem } from './civil-status-ledger-item';

const validator = new ContractValidator();

function consumed(record: EncodedRecord): ConsumedEvent {
  const read = readEvent(
    { key: record.key, value: record.value, headers: record.headers },
    TOPICS.communeCivilStatusEvents,
    validator,
  );
  if (!read.ok) throw new Error(JSON.stringify(read.failure));
  return { event: read.value, partition: 0, offset: '0' } as unknown as ConsumedEvent;
}

const event = (
  type: (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES],
  data: { maXa: string },
  sequence = 1,
) =>
  consumed(
    toRecord({
      name: '',
      type,
      topic: TOPICS.communeCivilStatusEvents,
      data,
      communeCode: data.maXa,
      sequence,
    }),
  );

describe('civilStatusLedgerItem', () => {
  const rng = new Rng(11);

  it('maps each registration to a snapshot of its type, keyed by maDinhDanhHoSo', () => {
    const birth = birthRegistered(rng);
    const death = deathRegistered(rng);
    const marriage = marriageRegistered(rng);
    const items = [
      civilStatusLedgerItem(event(EVENT_TYPES.BirthRegistered, birth)),
      civilStatusLedgerItem(event(EVENT_TYPES.DeathRegistered, death)),
      civilStatusLedgerItem(event(EVENT_TYPES.MarriageRegistered, marriage)),
    ];
    expect(items.map((i) => [i.kind, i.entityType, i.entityKey, i.target, i.domain])).toEqual([
      ['snapshot', 'birth', birth.maDinhDanhHoSo, 'civil-status-registry', 'civil-status'],
      ['snapshot', 'death', death.maDinhDanhHoSo, 'civil-status-registry', 'civil-status'],
      ['snapshot', 'marriage', marriage.maDinhDanhHoSo, 'civil-status-registry', 'civil-status'],
    ]);
    expect(items[0]?.payload).toEqual(birth);
  });

  it('maps an amendment to a part of the registration it amends, keyed by its content', () => {
    const amendment = registrationAmended(rng, { loaiDangKy: 'KT' });
    const first = civilStatusLedgerItem(event(EVENT_TYPES.RegistrationAmended, amendment, 2));
    const again = civilStatusLedgerItem(event(EVENT_TYPES.RegistrationAmended, amendment, 3));
    const changed = { ...amendment, lyDo: 'Một lý do khác hẳn' };
    const other = civilStatusLedgerItem(event(EVENT_TYPES.RegistrationAmended, changed, 4));
    expect(first).toMatchObject({
      kind: 'part',
      entityType: 'death',
      entityKey: amendment.maDinhDanhHoSo,
    });
    // The same amendment under another event id is the same part: sent once.
    expect(again.partKey).toBe(first.partKey);
    expect(again.eventId).not.toBe(first.eventId);
    expect(other.partKey).not.toBe(first.partKey);
    expect(first.partKey).toMatch(/^CC-[0-9a-f]{24}$/);
  });
});
