import { Wakeup } from './wakeup';

describe('Wakeup', () => {
  it('returns after the timeout when nobody notifies', async () => {
    const started = Date.now();
    await new Wakeup().wait(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('returns at once on notify, and remembers a notify that came while nobody waited', async () => {
    const wakeup = new Wakeup();
    const started = Date.now();
    const waiting = wakeup.wait(10_000);
    wakeup.notify();
    await waiting;
    wakeup.notify();
    await wakeup.wait(10_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
