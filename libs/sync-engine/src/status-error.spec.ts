import { PortalCallError } from '@lienthong/resilience';
import { redactEchoes, statusError } from './status-error';

describe('the error a sync.status carries', () => {
  const submitted = {
    MaHoSo: 'H56.14-250702-0001',
    ChuHoSo: 'Nguyễn Văn An',
    DinhDanhCHS: [{ LoaiDinhDanh: 1, SoDinhDanh: '001203004567' }],
    DiaChi: { dcChiTiet: 'Số 5 Lê Lợi' },
  };

  it('cuts out every value of the submission the portal echoed back, longest first', () => {
    expect(
      redactEchoes(
        'Chủ hồ sơ Nguyễn Văn An (Số 5 Lê Lợi) có số định danh 001203004567 không hợp lệ',
        submitted,
      ),
    ).toBe('Chủ hồ sơ […] ([…]) có số định danh […] không hợp lệ');
  });

  it('masks what still looks like an ID or a phone number, grouped or not', () => {
    expect(redactEchoes('CCCD 079 301 009 999 hoặc 0912345678 đã tồn tại', submitted)).toBe(
      'CCCD ********99 hoặc ********78 đã tồn tại',
    );
  });

  it('keeps our code, the class and the portal code, and stays within the contract however long the portal talks', () => {
    const error = new PortalCallError('PORTAL_REJECTED', 'DVCQG rejected DongBoHoSoMC', {
      portalCode: '02'.repeat(40),
      portalMessage: `Lỗi: ${'x'.repeat(5000)} của Nguyễn Văn An`,
    });
    const status = statusError(error, submitted);
    expect(status.code).toBe('PORTAL_REJECTED');
    expect(status.class).toBe('permanent');
    expect(status.portalCode).toHaveLength(50);
    expect(status.message.length).toBeLessThanOrEqual(2000);
    expect(status.message.startsWith('DVCQG rejected DongBoHoSoMC: Lỗi: xxx')).toBe(true);
    expect(status.message).not.toContain('Nguyễn Văn An');
  });

  it('a retriable error without portal words is our message alone', () => {
    expect(
      statusError(new PortalCallError('PORTAL_UNAVAILABLE', 'DVCQG answered 503'), submitted),
    ).toEqual({
      code: 'PORTAL_UNAVAILABLE',
      class: 'retriable',
      message: 'DVCQG answered 503',
    });
  });
});
