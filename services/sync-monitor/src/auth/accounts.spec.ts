import { covers, hashPassword, parseAccounts, verifyPassword } from './accounts';
import { refusal } from '../commands/scope-authorization';

describe('local accounts', () => {
  it('verifies a password against its scrypt hash, and nothing else', async () => {
    const hash = await hashPassword('mật khẩu đúng', 1024);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$/);
    await expect(verifyPassword('mật khẩu đúng', hash)).resolves.toBe(true);
    await expect(verifyPassword('mật khẩu sai', hash)).resolves.toBe(false);
    await expect(verifyPassword('mật khẩu đúng', 'plain-text')).resolves.toBe(false);
  });

  it('refuses a bad accounts file, naming the entry and the rule', async () => {
    const hash = await hashPassword('x', 1024);
    const file = (accounts: unknown) => JSON.stringify({ accounts });
    const ok = {
      username: 'hue',
      passwordHash: hash,
      role: { kind: 'operator', provinces: ['46'] },
    };
    expect(parseAccounts(file([ok]), 'f')).toEqual([ok]);
    expect(() => parseAccounts('{', 'f')).toThrow(/^f: not JSON/);
    expect(() => parseAccounts(file([ok, ok]), 'f')).toThrow(
      'f: accounts[1].username: hue appears twice',
    );
    expect(() => parseAccounts(file([{ ...ok, passwordHash: 'secret' }]), 'f')).toThrow(
      'f: accounts[0].passwordHash: scrypt$N$r$p$salt$hash',
    );
    expect(() =>
      parseAccounts(file([{ ...ok, role: { kind: 'admin', provinces: '*' } }]), 'f'),
    ).toThrow('f: accounts[0].role.kind: operator or viewer');
    expect(() =>
      parseAccounts(file([{ ...ok, role: { kind: 'viewer', provinces: ['Huế'] } }]), 'f'),
    ).toThrow(/role\.provinces/);
  });
});

describe('roles scoped to provinces', () => {
  const provinceOf = (c: string) => (c === '19753' ? '46' : c === '26740' ? '79' : '00');
  const hue = { kind: 'operator' as const, provinces: ['46'] };

  it('a province role sees its provinces; a national one sees all', () => {
    expect(covers(hue, '46')).toBe(true);
    expect(covers(hue, '79')).toBe(false);
    expect(covers({ kind: 'viewer', provinces: '*' }, '79')).toBe(true);
  });

  it('an operator acts on communes of their provinces only, and must name them; a viewer never acts', () => {
    expect(refusal(hue, { communeCodes: ['19753'] }, provinceOf)).toBeUndefined();
    expect(refusal(hue, { communeCodes: ['19753', '26740'] }, provinceOf)).toBe(
      'scope.communeCodes: 26740 outside your provinces (46)',
    );
    expect(refusal(hue, {}, provinceOf)).toMatch(/^scope.communeCodes: required/);
    expect(refusal({ kind: 'operator', provinces: '*' }, {}, provinceOf)).toBeUndefined();
    expect(refusal({ kind: 'viewer', provinces: '*' }, {}, provinceOf)).toMatch(
      /viewer cannot act/,
    );
  });
});
