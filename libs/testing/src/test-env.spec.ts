import { assertTestDatabase } from './test-env';

describe('assertTestDatabase', () => {
  it('accepts a database whose name contains "test"', () => {
    expect(() =>
      assertTestDatabase('postgres://postgres@127.0.0.1:5432/lienthong_test'),
    ).not.toThrow();
  });

  it.each(['lienthong', 'postgres', 'prod_ledger'])('refuses %s', (name) => {
    expect(() => assertTestDatabase(`postgres://postgres@127.0.0.1:5432/${name}`)).toThrow(
      `refusing to run tests against database "${name}"`,
    );
  });
});
