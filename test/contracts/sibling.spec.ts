import { EVENT_TYPES, decodeEvent, encodeEvent, encodeSibling } from '@lienthong/contracts';
import type { EventType, SyncStatus, SyncStatusV2 } from '@lienthong/contracts';

const status = {
  entity: { domain: 'dossier', type: 'dossier', key: 'H01.1', communeCode: '00004' },
  state: 'SYNCED',
  sequence: 2,
  attempt: 1,
  target: 'dvcqg',
  occurredAt: '2026-12-05T03:00:00.000+07:00',
} as SyncStatusV2;

describe('encodeSibling: a second event with the attributes of one already checked', () => {
  const v2 = encodeEvent(EVENT_TYPES.SyncStatusV2, status, {
    source: '/lienthong/dossier-sync',
    subject: 'dossier:H01.1',
    time: status.occurredAt,
    id: 'dossier-sync-outbox-v2-7',
  });

  const v1 = status as SyncStatus;

  it('decodes to the same envelope under its own type and id, with its own payload', () => {
    const sibling = encodeSibling(v2, EVENT_TYPES.SyncStatus, 'dossier-sync-outbox-7', v1);
    const [a, b] = [decodeEvent(v2), decodeEvent(sibling)];
    if (!a.ok || !b.ok) throw new Error('did not decode');
    expect(b.value.envelope).toEqual({
      ...a.value.envelope,
      type: EVENT_TYPES.SyncStatus,
      id: 'dossier-sync-outbox-7',
    });
    expect(b.value.data).toEqual(v1);
    expect(sibling.key).toBe(v2.key);
    expect(Object.keys(sibling.headers)).toEqual(Object.keys(v2.headers));
  });

  it("without a payload of its own, carries the checked event's payload bytes", () => {
    const sibling = encodeSibling(v2, EVENT_TYPES.SyncStatus, 'dossier-sync-outbox-7');
    expect(sibling.value).toBe(v2.value);
    const decoded = decodeEvent(sibling);
    if (!decoded.ok) throw new Error('did not decode');
    expect(decoded.value.data).toEqual(status);
    expect(decoded.value.envelope.type).toBe(EVENT_TYPES.SyncStatus);
  });

  it('refuses an unknown type and an empty id', () => {
    expect(() => encodeSibling(v2, 'vn.example.nope' as EventType, 'x')).toThrow(
      /unknown event type vn.example.nope/,
    );
    expect(() => encodeSibling(v2, EVENT_TYPES.SyncStatus, '')).toThrow(
      /event id must be a non-empty string/,
    );
  });
});
