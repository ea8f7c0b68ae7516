import { describeSafely } from './safe-exceptions.filter';

describe('describeSafely', () => {
  it("logs a database error's type, message and stack, never its query parameters", () => {
    const error = Object.assign(new Error('read ECONNRESET'), {
      name: 'QueryFailedError',
      query: 'insert into dvcqg_dossier (ma_ho_so, header) values ($1, $2)',
      parameters: ['H56.14-250702-0001', '{"ChuHoSo":"Nguyễn Văn An","SoDinhDanh":"001203004567"}'],
    });
    const line = describeSafely(error);
    expect(line.startsWith('QueryFailedError: read ECONNRESET\n    at ')).toBe(true);
    expect(line).not.toContain('Nguyễn Văn An');
    expect(line).not.toContain('001203004567');
    expect(line).not.toContain('insert into');
  });

  it('masks an ID number the message itself carries', () => {
    expect(describeSafely(new Error('duplicate key 001203004567')).split('\n')[0]).toBe(
      'Error: duplicate key ********67',
    );
  });
});
