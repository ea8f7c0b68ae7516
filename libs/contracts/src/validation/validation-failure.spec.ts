import { describeFailure, fieldOf, toProblemDetails } from './validation-failure';
import type { ValidationFailure } from './validation-failure';

describe('validation failure', () => {
  it('turns JSON pointers into readable field paths', () => {
    expect(fieldOf('/DinhDanhCHS/0/SoDinhDanh')).toBe('DinhDanhCHS[0].SoDinhDanh');
    expect(fieldOf('/ThongTinThuaDat/12')).toBe('ThongTinThuaDat[12]');
    expect(fieldOf('')).toBe('(payload)');
    expect(fieldOf('/a~1b/c~0d')).toBe('a/b.c~d');
  });

  const f: ValidationFailure = {
    stage: 'validate',
    code: 'CONTRACT_VIOLATION',
    eventType: 'vn.lienthong.dossier.upserted.v1',
    issues: [
      { path: '/MaHoSo', field: 'MaHoSo', rule: 'pattern', message: 'MaHoSo: must match pattern' },
      { path: '/ChuHoSo', field: 'ChuHoSo', rule: 'required', message: 'ChuHoSo: is required' },
    ],
  };

  it('summarises with the first issue and a count', () => {
    expect(describeFailure(f)).toBe('CONTRACT_VIOLATION: MaHoSo: must match pattern (+1 more)');
  });

  it('gives HTTP APIs the same issues as RFC 9457 problem details', () => {
    expect(toProblemDetails(f)).toMatchObject({
      status: 422,
      code: 'CONTRACT_VIOLATION',
      issues: f.issues,
    });
  });
});
