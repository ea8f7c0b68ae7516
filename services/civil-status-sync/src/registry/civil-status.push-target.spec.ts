import { toPollAnswer } from './civil-status.push-target';

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
