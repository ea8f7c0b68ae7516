import {
  dvcqgAlreadyExists,
  dvcqgList,
  fromStamp,
  fromWireHeader,
  toStamp,
  toWireHeader,
  toWireStep,
} from './dvcqg.wire';

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

  it('sends coded values as strings and reads them back as numbers', () => {
    const header = {
      MaHoSo: 'H56.14-250702-0001',
      TrangThaiHoSo: 10,
      KenhThucHien: 2,
      HinhThuc: 0,
      HoSoCoThanhPhanSoHoa: 1,
      DuocThanhToanTrucTuyen: 0,
    };
    const wire = toWireHeader(header as never);
    expect(wire).toEqual({
      MaHoSo: 'H56.14-250702-0001',
      TrangThaiHoSo: '10',
      KenhThucHien: '2',
      HinhThuc: '0',
      HoSoCoThanhPhanSoHoa: '1',
      DuocThanhToanTrucTuyen: '0',
    });
    expect(fromWireHeader(wire)).toEqual(header);
  });

  it('recognises "already exists" as 03, 3, -3 or only by its words; reads list answers from result or data', () => {
    expect(['03', '3', '-3', 3, -3].map((c) => dvcqgAlreadyExists(c))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(dvcqgAlreadyExists('-1', 'Hồ sơ H đã tồn tại trên hệ thống')).toBe(true);
    expect(dvcqgAlreadyExists('00', 'Thành công')).toBe(false);
    expect(dvcqgAlreadyExists('02', 'Sai dữ liệu')).toBe(false);
    expect(dvcqgList({ error_code: '00', result: [{ MaHoSo: 'a' }] })).toEqual([{ MaHoSo: 'a' }]);
    expect(dvcqgList({ error_code: '00', data: [{ MaHoSo: 'b' }] })).toEqual([{ MaHoSo: 'b' }]);
    expect(dvcqgList({ error_code: '00', data: { MaHoSo: 'c' } })).toEqual([]);
    expect(dvcqgList({ error_code: '00' })).toEqual([]);
  });

  it('sends steps without our stable step id, codes as strings', () => {
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
      TrangThai: '2',
    });
  });
});
