import { paceMs } from './reconcile-runs';

describe('paceMs: steps that average a rate', () => {
  it('waits n / rate seconds from the start of the step, less the time the step took', () => {
    // 50 entities at 10/s: 5 s per step; a step that took 1.2 s waits 3.8 s more.
    expect(paceMs(50, 10, 1_000, 2_200)).toBe(3_800);
  });

  it('does not wait after a step slower than the rate allows (the portal is the limit then)', () => {
    expect(paceMs(50, 100, 0, 900)).toBe(0);
  });

  it('keeps a rate of zero from dividing by zero (it waits long, it does not spin)', () => {
    expect(paceMs(1, 0, 0, 0)).toBe(1_000_000);
  });

  it('over many steps, the average rate is the rate asked, whatever each step took', () => {
    let t = 0;
    const stepMs = [120, 40, 300, 80, 10];
    let asked = 0;
    for (let i = 0; i < 100; i += 1) {
      const began = t;
      t += stepMs[i % stepMs.length] as number;
      asked += 20;
      t += paceMs(20, 50, began, t);
    }
    expect(asked / (t / 1000)).toBeCloseTo(50, 6);
  });
});
