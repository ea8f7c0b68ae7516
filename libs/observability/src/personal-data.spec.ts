import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerOptions } from './logger';
import { maskPersonalData, maskText } from './personal-data';
import { parseTraceparent, withTrace } from './trace-context';

describe('personal data in logs', () => {
  it('masks personal IDs and phone numbers inside free text, keeping the last two characters', () => {
    expect(maskText('CCCD 001203004567 gọi 0912345678 hoặc +84 912 345 678')).toBe(
      'CCCD ********67 gọi ********78 hoặc ********78',
    );
    expect(maskText('CMND 123456789')).toBe('CMND *******89');
  });

  it('masks personal IDs written in groups (spaces, dots, dashes)', () => {
    expect(maskText('số 001 203 004 567, cũ 123.456.789, mới 0012-0300-4567')).toBe(
      'số ********67, cũ ********89, mới ********67',
    );
  });

  it('leaves dossier codes, commune codes, timestamps and offsets of other lengths alone', () => {
    const text =
      'H56.14-250702-0001 H56.58-250714-0031 commune 26734 at 20250702083000 on 2025-07-02 08:30:00 offset 1234567 of 1234567890';
    expect(maskText(text)).toBe(text);
  });

  it('leaves the identifiers the system mints whole (UUIDs, trace ids, digests), and masks what is around them', () => {
    const text =
      'run 8a65361c-8910-4072-9a5c-cf184ed71d09, trace 0af7651916cd43dd8448eb211c80319c, body ' +
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, id 00000000-1234-5678-9012-123456789012';
    expect(maskText(text)).toBe(text);
    expect(maskText(`${text} CCCD 001203004567`)).toBe(`${text} CCCD ********67`);
    // A personal ID glued to a UUID-like fragment that is not a whole UUID is still masked.
    expect(maskText('ref 8a65361c-8910-4072-9a5c')).toBe('ref 8a65361c-********-9a5c');
  });

  it('masks the personal fields the contracts declare (x-personal-data), civil status and land included', () => {
    const masked = maskPersonalData({
      meHoTen: 'Trần Thị Bình',
      nksNgaySinh: '2025-07-01',
      nktNguyenNhanChet: 'Bệnh tim',
      lienThong: { theBHYT: true },
      theBHYT: 'TE1797925000123',
      ThongTinNguoiNopDon: { HoTen: 'Lê Văn Cường', DiaChiChiTiet: 'Số 5 Lê Lợi' },
      maXa: '26734',
    }) as Record<string, unknown>;
    expect(masked).toEqual({
      meHoTen: '********nh',
      nksNgaySinh: '********01',
      nktNguyenNhanChet: '******im',
      lienThong: { theBHYT: '[masked]' },
      theBHYT: '********23',
      ThongTinNguoiNopDon: { HoTen: '********ng', DiaChiChiTiet: '********ợi' },
      maXa: '26734',
    });
  });

  it('masks every value under a personal key, at any depth, whatever its type', () => {
    const masked = maskPersonalData({
      dossier: {
        MaHoSo: 'H56.14-250702-0001',
        ChuHoSo: 'Nguyễn Văn An',
        SoDienThoai: '0912345678',
        DinhDanhCHS: [{ LoaiDinhDanh: 1, SoDinhDanh: '001203004567' }],
      },
      session: { token: 'abc' },
    });
    expect(masked).toEqual({
      dossier: {
        MaHoSo: 'H56.14-250702-0001',
        ChuHoSo: '********An',
        SoDienThoai: '********78',
        DinhDanhCHS: [{ LoaiDinhDanh: 1, SoDinhDanh: '********67' }],
      },
      session: '[masked]',
    });
  });

  it('writes JSON lines with trace ids and no personal data in clear', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino(loggerOptions('dossier-sync'), sink);
    withTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', () =>
      logger.info(
        { ChuHoSo: 'Trần Thị Bình' },
        'rejected dossier of 079190001234, phone 0987654321',
      ),
    );
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({
      service: 'dossier-sync',
      level: 'info',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      ChuHoSo: '********nh',
      msg: 'rejected dossier of ********34, phone ********21',
    });
    expect(lines[0]).not.toMatch(/079190001234|0987654321|Trần Thị Bình/);
  });
});

describe('trace context', () => {
  it('reads a W3C traceparent and refuses malformed or all-zero ones', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    });
    expect(
      parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'),
    ).toBeUndefined();
    expect(parseTraceparent('not-a-trace')).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });
});
