import { birthYearOf, decodeCenturySex, personalIdIssues } from './personal-id';

describe('personal ID (số định danh cá nhân)', () => {
  // 079 (TP.HCM) · 3 = 2000s female · 25 · random
  const girlBorn2025 = '079325004217';
  // 001 (Hà Nội) · 0 = 1900s male · 85 · random
  const manBorn1985 = '001085123456';

  it('decodes century, sex and birth year from digits 4–6', () => {
    expect(decodeCenturySex(girlBorn2025)).toEqual({ century: 2000, sex: 2 });
    expect(birthYearOf(girlBorn2025)).toBe(2025);
    expect(decodeCenturySex(manBorn1985)).toEqual({ century: 1900, sex: 1 });
    expect(birthYearOf(manBorn1985)).toBe(1985);
  });

  it('accepts an ID consistent with the birth date and sex', () => {
    expect(personalIdIssues(girlBorn2025, '/x', 'x', { birthDate: '2025-07-03', sex: 2 })).toEqual(
      [],
    );
    expect(personalIdIssues(manBorn1985, '/x', 'x', { birthDate: '1985-02-28', sex: 1 })).toEqual(
      [],
    );
  });

  it('names the field and the rule, never the number', () => {
    const issues = personalIdIssues(manBorn1985, '/meSoDDCN', 'meSoDDCN', {
      birthDate: '1986-01-01',
      sex: 2,
    });
    expect(issues.map((i) => i.rule)).toEqual(['personal-id-birth-year', 'personal-id-sex']);
    for (const i of issues) {
      expect(i.message.startsWith('meSoDDCN: ')).toBe(true);
      expect(i.message).not.toContain(manBorn1985);
    }
  });

  it('refuses a province prefix that never existed', () => {
    expect(personalIdIssues('003085123456', '/x', 'x').map((i) => i.rule)).toEqual([
      'personal-id-province',
    ]);
  });

  it('refuses a century digit that puts the birth in the future', () => {
    expect(personalIdIssues('001485123456', '/x', 'x').map((i) => i.rule)).toEqual([
      'personal-id-birth-year',
    ]);
  });
});
