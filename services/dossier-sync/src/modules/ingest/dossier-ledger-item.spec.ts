import { ContractValidator, EVENT_TYPES, TOPICS, readEvent } from '@lienthong/contracts';
import type { ContractEvent } from '@lienthong/contracts';
import type { ConsumedEvent } from '@lienthong/messaging';
import { Rng, dossierLifecycle, lifecycleRecords } from '@lienthong/testing';
import { dossierLedgerItem } from './dossier-ledger-item';

const validator = new ContractValidator();

function consumed(record: ReturnType<typeof lifecycleRecords>[number]): ConsumedEvent {
  const read = readEvent(
    { key: record.key, value: record.value, headers: record.headers },
    TOPICS.communeDossierEvents,
    validator,
  );
  if (!read.ok) throw new Error(JSON.stringify(read.failure));
  return { event: read.value, partition: 0, offset: '0' } as unknown as ConsumedEvent;
}

describe('dossierLedgerItem', () => {
  const life = dossierLifecycle(new Rng(8), { endAt: 4 });
  const records = lifecycleRecords(life);

  it('maps a header to a snapshot and a step to a part keyed by MaBuocXuLy, with the envelope identity', () => {
    const items = records.map((r) => dossierLedgerItem(consumed(r)));
    expect(items.map((i) => [i.kind, i.entityKey, i.sequence, i.partKey])).toEqual(
      life.events.map((e) => [
        e.kind === 'upsert' ? 'snapshot' : 'part',
        life.code,
        e.sequence,
        e.kind === 'step' ? e.data.MaBuocXuLy : undefined,
      ]),
    );
    const first = consumed(records[0] as (typeof records)[number]);
    expect(dossierLedgerItem(first)).toMatchObject({
      eventId: first.event.envelope.id,
      source: first.event.envelope.source,
      domain: 'dossier',
      entityType: 'dossier',
      communeCode: life.commune.code,
      target: 'dvcqg',
      payload: first.event.data,
    });
  });

  it('refuses a type it has no mapping for (a new type on the topic needs one)', () => {
    const event = consumed(records[0] as (typeof records)[number]);
    const other = {
      ...event,
      event: {
        ...event.event,
        envelope: { ...event.event.envelope, type: EVENT_TYPES.BirthRegistered },
      } as ContractEvent,
    };
    expect(() => dossierLedgerItem(other)).toThrow(
      `dossier-sync has no ledger mapping for ${EVENT_TYPES.BirthRegistered}`,
    );
  });
});
