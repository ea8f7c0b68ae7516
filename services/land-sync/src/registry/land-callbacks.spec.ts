import { readCallback } from './land-callbacks';
import { fromLookup } from './land.push-target';
import { securityCode, validSecurityCode } from './security-code';

describe('land registry callbacks', () => {
  const key = { SoBienNhan: 'DD-26740-00001', SecurityCode: 'c', ThoiGian: '2025-07-02T01:00:00Z' };

  it('reads each kind as a fact with a stable id and the registry time', () => {
    const routed = readCallback('LuanChuyen', { ...key, MaTrangThai: '2' });
    expect(routed).toEqual({
      ok: true,
      soBienNhan: 'DD-26740-00001',
      securityCode: 'c',
      fact: {
        id: 'LuanChuyen:DD-26740-00001:2025-07-02T01:00:00.000Z',
        at: new Date('2025-07-02T01:00:00Z'),
        answer: { kind: 'waiting', stage: { code: 'ROUTED', label: 'Đã luân chuyển' } },
      },
    });
    expect(readCallback('ChoBoSung', { ...key, NoiDung: 'Bổ sung bản vẽ' })).toMatchObject({
      fact: {
        answer: {
          kind: 'supplement',
          requestedAt: '2025-07-02T01:00:00.000Z',
          note: 'Bổ sung bản vẽ',
        },
      },
    });
    expect(readCallback('KetThuc', key)).toMatchObject({
      fact: { answer: { kind: 'waiting', stage: { code: 'FINISHED' }, pollNow: true } },
    });
  });

  it('publishes a tax notice without the payer name', () => {
    const read = readCallback('DongBoKetQuaThue', {
      ...key,
      HoTenChu: 'Nguyễn Văn An',
      LoaiThue: 'LPTB',
      SoThongBaoThue: 'TB-1',
      DuongDanThongBaoThue: 'https://thue.example.vn/tb-1.pdf',
    });
    expect(read).toMatchObject({
      fact: {
        answer: {
          kind: 'waiting',
          taxNotice: {
            reference: 'TB-1',
            kind: 'LPTB',
            documentUrl: 'https://thue.example.vn/tb-1.pdf',
          },
        },
      },
    });
    expect(JSON.stringify(read)).not.toContain('Nguyễn Văn An');
  });

  it('names the field of a malformed callback', () => {
    expect(readCallback('XoaHoSo', key)).toMatchObject({ ok: false, field: 'path' });
    expect(readCallback('LuanChuyen', { ...key, SoBienNhan: 5 })).toMatchObject({
      ok: false,
      field: 'SoBienNhan',
    });
    expect(readCallback('LuanChuyen', { ...key, SecurityCode: '' })).toMatchObject({
      ok: false,
      field: 'SecurityCode',
    });
    expect(readCallback('LuanChuyen', { ...key, ThoiGian: 'hôm qua' })).toMatchObject({
      ok: false,
      field: 'ThoiGian',
    });
    expect(readCallback('LuanChuyen', null)).toMatchObject({ ok: false, field: 'SoBienNhan' });
  });

  it('accepts only the SecurityCode made with the secret for that receipt number', () => {
    const code = securityCode('a-secret-of-enough-length', 'DD-1');
    expect(validSecurityCode('a-secret-of-enough-length', 'DD-1', code)).toBe(true);
    expect(validSecurityCode('a-secret-of-enough-length', 'DD-2', code)).toBe(false);
    expect(validSecurityCode('another-secret-entirely', 'DD-1', code)).toBe(false);
    expect(validSecurityCode('a-secret-of-enough-length', 'DD-1', '')).toBe(false);
  });

  it('a lookup is the fallback: its last stage, with the tax notice at the end too', () => {
    const history = [
      { TrangThai: 'ROUTED' as const, ThoiDiem: '2025-07-02T01:00:00Z' },
      { TrangThai: 'FINANCIAL_OBLIGATION' as const, ThoiDiem: '2025-07-03T01:00:00Z' },
      { TrangThai: 'FINISHED' as const, ThoiDiem: '2025-07-04T01:00:00Z' },
    ];
    const notice = {
      HoTenChu: 'Nguyễn Văn An',
      LoaiThue: 'LPTB',
      SoThongBaoThue: 'TB-1',
      DuongDanThongBaoThue: 'https://thue.example.vn/tb-1.pdf',
    };
    const done = fromLookup({
      MaHoSoMotCua: 'x',
      TrangThai: 'FINISHED',
      LichSu: history,
      HoSo: {},
      ThongBaoThue: notice,
    });
    expect(done).toMatchObject({
      kind: 'done',
      taxNotice: { reference: 'TB-1' },
      at: new Date('2025-07-04T01:00:00Z'),
    });
    expect(
      fromLookup({
        MaHoSoMotCua: 'x',
        TrangThai: 'SUPPLEMENT_REQUESTED',
        LichSu: history.slice(0, 1),
        HoSo: {},
      }),
    ).toMatchObject({ kind: 'supplement', requestedAt: '2025-07-02T01:00:00Z' });
  });
});
