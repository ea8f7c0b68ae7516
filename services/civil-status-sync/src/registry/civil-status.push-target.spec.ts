import type { CivilResult, CivilStatusClient } from '@lienthong/portal-clients';
import { PortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import { CivilStatusPushTarget, toPollAnswer } from './civil-status.push-target';

describe('the registry stage as the engine sees it', () => {
  it('a result is done: the whole answer kept, only the register entry published', () => {
    const answer = toPollAnswer({
      status: 'done',
      stage: '4',
      result: {
        soDinhDanh: '038225000123',
        soDangKy: '15/2025',
        quyenSo: '01/2025',
        trangSo: '15',
        ngayDangKy: '02/07/2025',
      },
    });
    expect(answer).toMatchObject({
      kind: 'done',
      result: { soDinhDanh: '038225000123' },
      published: {
        soDangKy: '15/2025',
        quyenSo: '01/2025',
        trangSo: '15',
        ngayDangKy: '2025-07-02T00:00:00+07:00',
      },
      stage: { code: '4', label: 'Có kết quả' },
    });
    expect(JSON.stringify((answer as { published: unknown }).published)).not.toContain(
      '038225000123',
    );
  });

  it('a supplement request carries its deadline; a refusal its reason; anything else is a wait', () => {
    expect(
      toPollAnswer({
        status: 'supplement',
        deadline: '2025-07-05',
        note: 'Bổ sung',
        at: '2025-07-02',
      }),
    ).toMatchObject({ kind: 'supplement', deadline: '2025-07-05', requestedAt: '2025-07-02' });
    expect(toPollAnswer({ status: 'refused', reason: 'Trùng giấy chứng sinh' })).toMatchObject({
      kind: 'refused',
      error: { code: 'PORTAL_REJECTED', portalCode: '6', portalMessage: 'Trùng giấy chứng sinh' },
    });
    expect(toPollAnswer({ status: 'waiting', stage: '3', label: 'Đang xử lý' })).toEqual({
      kind: 'waiting',
      stage: { code: '3', label: 'Đang xử lý' },
    });
  });
});

describe('reconciliation: what LayKetQua shows of a synced registration', () => {
  const entry = {
    soDinhDanh: '038225000123',
    soDangKy: '15/2025',
    quyenSo: '01/2025',
    trangSo: '15',
  };
  const inspected = (key: string, maTinh = '38', entityType = 'birth') => ({
    entityType: entityType as 'birth',
    entityKey: key,
    communeCode: '26734',
    desired: { maTinh, maXa: '26734' },
    result: entry,
  });

  function target(answers: Record<string, CivilResult>, failing: string[] = []) {
    const calls: string[] = [];
    const client = {
      results: (ids: string[], maTinh: string, module: string) => {
        calls.push(`${module} ${maTinh} ${ids.join(',')}`);
        if (failing.includes(maTinh))
          return Promise.reject(new PortalCallError('PORTAL_UNAVAILABLE', 'registry answered 503'));
        return Promise.resolve(
          new Map(ids.filter((id) => answers[id]).map((id) => [id, answers[id] as CivilResult])),
        );
      },
    } as unknown as CivilStatusClient;
    const gateway = { blocked: () => false } as unknown as PortalGateway;
    return { calls, target: new CivilStatusPushTarget(client, gateway) };
  }

  it('classifies each registration: the same entry, an edited entry, no longer decided, unknown to the registry; names only', async () => {
    const { calls, target: t } = target({
      same: { status: 'done', stage: '4', result: { ...entry } },
      edited: { status: 'done', stage: '5', result: { ...entry, trangSo: '(đã sửa)' } },
      reopened: { status: 'waiting', stage: '3', label: 'Đang xử lý' },
    });
    const found = await t.inspect(
      [inspected('same'), inspected('edited'), inspected('reopened'), inspected('lost')],
      'c1',
    );
    expect(calls).toEqual(['LTKS 38 same,edited,reopened,lost']);
    expect(Object.fromEntries(found)).toEqual({
      same: { kind: 'held', drift: [] },
      edited: { kind: 'held', drift: [{ field: 'trangSo', kind: 'changed' }] },
      reopened: { kind: 'held', drift: [{ field: 'trangThai', kind: 'changed' }] },
      lost: { kind: 'missing' },
    });
    expect(JSON.stringify([...found.values()])).not.toContain('đã sửa');
  });

  it('one LayKetQua per module and province; a failed call leaves its entities out (asked again later), never reported missing', async () => {
    const { calls, target: t } = target(
      { a: { status: 'done', stage: '4', result: { ...entry } } },
      ['01'],
    );
    const found = await t.inspect(
      [inspected('a'), inspected('b', '01'), inspected('c', '38', 'death')],
      'c1',
    );
    expect(calls.sort()).toEqual(['LTKS 01 b', 'LTKS 38 a', 'LTKT 38 c']);
    expect(Object.fromEntries(found)).toEqual({
      a: { kind: 'held', drift: [] },
      c: { kind: 'missing' },
    });
  });
});
