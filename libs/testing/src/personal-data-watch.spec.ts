import { PersonalDataWatch } from './personal-data-watch';

describe('PersonalDataWatch', () => {
  const watch = new PersonalDataWatch();
  watch.plant(
    JSON.stringify({
      MaHoSo: 'H56.14-250702-0001',
      ChuHoSo: 'Nguyễn Văn Canary',
      DinhDanhCHS: [{ LoaiDinhDanh: 1, SoDinhDanh: '079301009999' }],
      TenTTHC: 'Đăng ký khai sinh',
    }),
  );
  watch.plant({ meHoTen: 'Trần Thị Kiểm Tra', nksNoiSinh: { dcChiTiet: 'Số 9 Đường Thử' } });

  it('plants only the values under fields the contracts declare personal', () => {
    expect(watch.size).toBe(4);
    expect(watch.leaks('log', 'H56.14-250702-0001 Đăng ký khai sinh')).toEqual([]);
  });

  it('finds a planted value anywhere in a text, and reports it masked', () => {
    const leaks = watch.leaks('dossier-sync log', '{"msg":"pushed","owner":"Nguyễn Văn Canary"}');
    expect(leaks).toEqual(['dossier-sync log: ChuHoSo in clear (…ry, 17 chars)']);
    expect(watch.leaks('DLQ headers', 'id 079301009999 at Số 9 Đường Thử')).toEqual([
      'DLQ headers: SoDinhDanh in clear (…99, 12 chars)',
      'DLQ headers: nksNoiSinh in clear (…hử, 14 chars)',
    ]);
  });

  it('finds values sharing a prefix, and values planted after a search', () => {
    const w = new PersonalDataWatch();
    w.plant({ ChuHoSo: 'Nguyễn Văn An' });
    expect(w.leaks('log', 'nothing here')).toEqual([]);
    w.plant({ ChuHoSo: 'Nguyễn Văn Anh Tuấn' });
    expect(w.leaks('log', 'to Nguyễn Văn Anh Tuấn.')).toEqual([
      'log: ChuHoSo in clear (…An, 13 chars)',
      'log: ChuHoSo in clear (…ấn, 19 chars)',
    ]);
  });

  it('finds a planted secret (a password, a token) like a personal value, and refuses one too short to watch', () => {
    const w = new PersonalDataWatch();
    w.plantSecret('eyJhbGciOiJFUzI1NiJ9.canary.sig', 'an access token');
    expect(w.leaks('gateway log', 'Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.canary.sig')).toEqual(
      ['gateway log: an access token in clear (…ig, 31 chars)'],
    );
    expect(() => w.plantSecret('abc', 'short')).toThrow(/cannot be watched/);
  });
});
