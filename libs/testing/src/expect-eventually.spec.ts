import { expectEventually } from './expect-eventually';

describe('expectEventually', () => {
  it('returns as soon as the assertion passes', async () => {
    let calls = 0;
    const value = await expectEventually(
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return 'done';
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('fails after the deadline with the last assertion error', async () => {
    await expect(
      expectEventually(() => expect(1).toBe(2), { timeoutMs: 50, intervalMs: 5 }),
    ).rejects.toMatchObject({
      message: expect.stringContaining('still failing after 50 ms') as string,
      cause: expect.objectContaining({
        message: expect.stringContaining('toBe') as string,
      }) as Error,
    });
  });
});
