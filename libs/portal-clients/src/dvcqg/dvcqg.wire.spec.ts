import { fromStamp, fromWireHeader, toStamp, toWireHeader, toWireStep } from './dvcqg.wire';

describe('DVCQG wire format', () => {
  it('writes dates as yyyyMMddHHmmss in Vietnam time, whatever the offset given', () => {
    expect(toStamp('2025-07-02T08:30:00+07:00')).toBe('20250702083000');
    expect(toStamp('2025-07-02T01:30:00Z')).toBe('20250702083000');
    expect(toStamp('2025-07-01T20:15:09-05:00')).toBe('20250702081509');
    expect(fromStamp('20250702083000')).toBe('2025-07-02T08:30:00+07:00');
  });

  it('converts every header and supplement date, and back', () => {
    const header = {
      MaHoSo: 'H56.14-250702-0001',
      NgayNopHoSo: '2025-07-02T08:00:00+07:00',
      NgayTiepNhan: '2025-07-02T09:00:00+07:00',
      DanhSachHoSoBoSung: [
        { HoSoBoSungId: 'b1', NoiDungBoSung: 'x', NgayBoSung: '2025-07-03T10:00:00+07:00' },
      ],
    };
    const wire = toWireHeader(header as never);
    expect(wire).toMatchObject({
      NgayNopHoSo: '20250702080000',
      NgayTiepNhan: '20250702090000',
      DanhSachHoSoBoSung: [{ NgayBoSung: '20250703100000' }],
    });
    expect(fromWireHeader(wire)).toEqual(header);
  });

  it('sends steps without our stable step id', () => {
    const wire = toWireStep({
      MaHoSo: 'H',
      MaBuocXuLy: 'H-B1',
      NguoiXuLy: 'A',
      ThoiDiemXuLy: '2025-07-02T09:00:00+07:00',
      PhongBanXuLy: 'P',
      NoiDungXuLy: 'N',
      TrangThai: 2,
    });
    expect(wire).toEqual({
      MaHoSo: 'H',
      NguoiXuLy: 'A',
      ThoiDiemXuLy: '20250702090000',
      PhongBanXuLy: 'P',
      NoiDungXuLy: 'N',
      TrangThai: 2,
    });
  });
});
