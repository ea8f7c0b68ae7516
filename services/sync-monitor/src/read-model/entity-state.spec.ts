import type { SyncStatusV2 } from '@lienthong/contracts';
import { foldStatus, timelineDetail } from './entity-state';
import type { EntityState } from './entity-state';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 8, minute)).toISOString();
const status = (
  state: SyncStatusV2['state'],
  minute: number,
  extra: Partial<SyncStatusV2> = {},
): SyncStatusV2 => ({
  entity: { domain: 'dossier', type: 'dossier', key: 'H56.14-250702-0001', communeCode: '19753' },
  state,
  sequence: 1,
  attempt: 1,
  target: 'dvcqg',
  occurredAt: at(minute),
  ...extra,
});
const fold = (statuses: SyncStatusV2[]) =>
  statuses.reduce<EntityState | undefined>((s, x) => foldStatus(s, x, () => '46'), undefined);

describe('foldStatus: where an entity stands after its statuses', () => {
  it('a new change waits from the moment it was accepted until it is synced', () => {
    expect(fold([status('ACCEPTED', 0)])).toMatchObject({
      state: 'ACCEPTED',
      provinceCode: '46',
      unsyncedSince: at(0),
      syncedAt: null,
    });
    expect(fold([status('ACCEPTED', 0), status('SYNCED', 2)])).toMatchObject({
      state: 'SYNCED',
      syncedAt: at(2),
      unsyncedSince: null,
    });
  });

  it('retries keep the age of the oldest waiting change, not of the last retry', () => {
    const s = fold([
      status('ACCEPTED', 0),
      status('RETRYING', 1),
      status('RETRYING', 5),
      status('ACCEPTED', 6, { sequence: 2 }),
    ]);
    expect(s).toMatchObject({ state: 'ACCEPTED', unsyncedSince: at(0), sequence: 2 });
  });

  it('a change after a sync starts a new wait', () => {
    const s = fold([status('ACCEPTED', 0), status('SYNCED', 1), status('RETRYING', 7)]);
    expect(s).toMatchObject({ state: 'RETRYING', unsyncedSince: at(7), syncedAt: at(1) });
  });

  it('drift opens without moving the state; a repair closes it and counts', () => {
    const found = fold([status('SYNCED', 0), status('DRIFT_DETECTED', 3)]);
    expect(found).toMatchObject({ state: 'SYNCED', driftOpen: true, driftCount: 1 });
    const repaired = fold([
      status('SYNCED', 0),
      status('DRIFT_DETECTED', 3),
      status('REPAIRED', 4),
    ]);
    expect(repaired).toMatchObject({
      state: 'SYNCED',
      driftOpen: false,
      driftCount: 1,
      repairedCount: 1,
      syncedAt: at(4),
    });
  });

  it('a superseded event changes nothing but the timeline', () => {
    const s = fold([status('SYNCED', 0), status('SUPERSEDED', 2)]);
    expect(s).toMatchObject({ state: 'SYNCED', syncedAt: at(0) });
  });

  it('a status older than the last one applied counts but does not move the state back', () => {
    const s = fold([status('SYNCED', 5), status('RETRYING', 3), status('DRIFT_DETECTED', 4)]);
    expect(s).toMatchObject({
      state: 'SYNCED',
      lastEventAt: at(5),
      driftCount: 1,
      driftOpen: false,
    });
  });
});

describe('timelineDetail: what the timeline keeps of a status', () => {
  it('keeps codes, references and field names, masks free text, and drops results and notes', () => {
    const detail = timelineDetail(
      status('REJECTED', 0, {
        error: {
          code: 'PORTAL_REJECTED',
          class: 'permanent',
          message: 'owner 079301001234 refused',
          portalCode: '02',
        },
        receipt: { reference: 'R-1', result: { soDangKy: '12' } },
        supplement: { requestedAt: at(1), deadline: null, note: 'Nguyễn Văn A phải bổ sung' },
        drift: [{ field: 'ChuHoSo', kind: 'changed' }],
      }),
    );
    expect(detail).toEqual({
      error: {
        code: 'PORTAL_REJECTED',
        class: 'permanent',
        message: 'owner ********34 refused',
        portalCode: '02',
      },
      receipt: 'R-1',
      supplement: { requestedAt: at(1), deadline: null },
      drift: [{ field: 'ChuHoSo', kind: 'changed' }],
    });
  });
});
