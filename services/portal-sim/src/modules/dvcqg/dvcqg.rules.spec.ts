import { headerProblem, parseStamp } from './dvcqg.rules';

const header = {
  MaHoSo: 'H56.14-250702-0001',
  MaTTHC: '1.001193.000.00.00.H56',
  TrangThaiHoSo: 2,
  NgayTiepNhan: '20250702083000',
  NgayHenTra: '20250704170000',
};

describe('DVCQG rules', () => {
  it('reads yyyyMMddHHmmss as Vietnamese local time', () => {
    expect(parseStamp('20250702083000')).toBe(Date.parse('2025-07-02T01:30:00Z'));
    expect(parseStamp('2025-07-02')).toBeUndefined();
  });

  it('accepts a well-formed header and a forward jump of status (a coalesced push)', () => {
    expect(headerProblem(header)).toBeUndefined();
    expect(
      headerProblem({ ...header, TrangThaiHoSo: 10 }, { ...header, TrangThaiHoSo: 2 }),
    ).toBeUndefined();
  });

  it('refuses what the portal refuses, in its words', () => {
    expect(headerProblem({ ...header, NgayHenTra: '20250701080000' })).toBe(
      'Ngày hẹn trả không được trước ngày tiếp nhận',
    );
    expect(headerProblem({ ...header, MaTTHC: '9.999999.000.00.00.H56' })).toMatch(
      /^Mã thủ tục hành chính không tồn tại/,
    );
    expect(headerProblem({ ...header, TrangThaiHoSo: 4 }, { ...header, TrangThaiHoSo: 10 })).toBe(
      'Không thể chuyển trạng thái từ 10 sang 4',
    );
  });
});
