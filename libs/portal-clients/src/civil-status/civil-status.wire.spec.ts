import { Rng, birthRegistered, deathRegistered, registrationAmended } from '@lienthong/testing';
import { toCivilResult } from './civil-status.client';
import { fromVnStamp, toAmendment, toRecord, toSubmission, toVnStamp } from './civil-status.wire';

describe('civil-status registry wire format', () => {
  it('stamps ngayTiepNhan as dd/MM/yyyy HH:mm:ss in Vietnam time, and reads it back', () => {
    expect(toVnStamp('2025-07-02T01:30:05Z')).toBe('02/07/2025 08:30:05');
    expect(fromVnStamp('02/07/2025 08:30:05')).toBe('2025-07-02T08:30:05+07:00');
    expect(fromVnStamp('05/07/2025')).toBe('2025-07-05');
    expect(fromVnStamp('2025-07-05')).toBeUndefined();
    expect(fromVnStamp(undefined)).toBeUndefined();
  });

  it('sends the record as a JSON string: dates dd.MM.yyyy, identities as type + number, codes as strings', () => {
    const birth = birthRegistered(new Rng(3));
    const body = toSubmission({ module: 'LTKS', registration: birth }, '000.00.40.H56');
    expect(body).toMatchObject({
      module: 'LTKS',
      maDonVi: '000.00.40.H56',
      maHoSoMCDT: birth.maDinhDanhHoSo,
      ngayTiepNhan: toVnStamp(birth.ngayDangKy as string),
      fileDinhKem: [],
    });
    const record = JSON.parse(body.data as string) as Record<string, unknown>;
    const [y, m, d] = birth.nksNgaySinh.split('-');
    expect(record.nksNgaySinh).toBe(`${d}.${m}.${y}`);
    expect(record.nksGioiTinh).toBe(String(birth.nksGioiTinh));
    expect(record).toMatchObject({ meLoaiGiayToTuyThan: '4', meSoGiayToTuyThan: birth.meSoDDCN });
    expect(record.meSoDDCN).toBeUndefined();
    expect(record.nksNoiSinh).toEqual(birth.nksNoiSinh);
  });

  it('writes a date-time inside the record as dd.MM.yyyy HH:mm (Vietnam time)', () => {
    const death = deathRegistered(new Rng(4), { nktNgayChet: '2025-07-03T02:15:00Z' });
    expect(toRecord(death as never).nktNgayChet).toBe('03.07.2025 09:15');
  });

  it('sends an amendment keyed by its own request id', () => {
    const a = registrationAmended(new Rng(5));
    const body = toAmendment(a, 'LTKS', '000.00.40.H56', 'CC-abc');
    expect(body).toMatchObject({
      maHoSoMCDT: a.maDinhDanhHoSo,
      maYeuCau: 'CC-abc',
      module: 'LTKS',
    });
    expect(JSON.parse(body.data as string)).toMatchObject({ noiDungThayDoi: a.noiDungThayDoi });
  });

  it('reads LayKetQua stages, whether the code comes as a string or a number', () => {
    expect(toCivilResult({ maHoSoMCDT: 'x', trangThai: '1' })).toMatchObject({
      status: 'waiting',
      stage: '1',
      label: 'Chờ tiếp nhận',
    });
    expect(toCivilResult({ maHoSoMCDT: 'x', trangThai: 3 })).toMatchObject({ status: 'waiting' });
    expect(
      toCivilResult({
        maHoSoMCDT: 'x',
        trangThai: '2',
        hanBoSungHoSo: '05/07/2025 17:00:00',
        noiDungXuLy: 'Bổ sung giấy tờ',
        thoiGianThucHien: '02/07/2025 08:00:00',
      }),
    ).toEqual({
      status: 'supplement',
      deadline: '2025-07-05T17:00:00+07:00',
      note: 'Bổ sung giấy tờ',
      at: '2025-07-02T08:00:00+07:00',
    });
    expect(
      toCivilResult({ maHoSoMCDT: 'x', trangThai: '5', ketQuaXuLy: { soDangKy: '12/2025' } }),
    ).toEqual({ status: 'done', stage: '5', result: { soDangKy: '12/2025' } });
    expect(toCivilResult({ maHoSoMCDT: 'x', trangThai: '6', noiDungXuLy: 'Sai' })).toEqual({
      status: 'refused',
      reason: 'Sai',
    });
    expect(toCivilResult({ maHoSoMCDT: 'x', trangThai: '9' })).toMatchObject({
      status: 'waiting',
      label: '9',
    });
  });
});
