import { RoundLoop, Wakeup } from './wakeup';
import type { RoundResult } from './wakeup';

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

describe('RoundLoop', () => {
  /** A loop whose rounds answer from a script, with an idle wait far longer than any test. */
  const scripted = (answers: RoundResult[], wakeup: Wakeup) => {
    const rounds: number[] = [];
    let nextRound: (() => void) | undefined;
    const loop = new RoundLoop(
      () => {
        rounds.push(Date.now());
        nextRound?.();
        return Promise.resolve(answers.shift() ?? { more: false });
      },
      wakeup,
      60_000,
      (err) => {
        throw err;
      },
    );
    const roundsReach = (n: number) =>
      new Promise<void>((done) => {
        const check = () => (rounds.length >= n ? done() : undefined);
        nextRound = check;
        check();
      });
    return { loop, rounds, roundsReach };
  };

  it('runs again at once while a round found work or says more may wait, and not after a round that took everything', async () => {
    const wakeup = new Wakeup();
    const { loop, rounds, roundsReach } = scripted([3, { more: true }, { more: false }], wakeup);
    loop.start();
    await roundsReach(3);
    // The third round took everything: the loop waits (60 s) until it is told of new work.
    await new Promise((r) => setImmediate(r));
    expect(rounds).toHaveLength(3);
    wakeup.notify();
    await roundsReach(4);
    await loop.stop();
    expect(rounds.length).toBeGreaterThanOrEqual(4);
  });

  it('does not lose a notify that came during a round that took everything', async () => {
    const wakeup = new Wakeup();
    let rounds = 0;
    let second: () => void = () => undefined;
    const secondRound = new Promise<void>((done) => (second = done));
    const loop = new RoundLoop(
      () => {
        rounds += 1;
        // Work committed while this round ran (after its read): it must not wait 60 s.
        if (rounds === 1) wakeup.notify();
        if (rounds === 2) second();
        return Promise.resolve({ more: false });
      },
      wakeup,
      60_000,
      (err) => {
        throw err;
      },
    );
    loop.start();
    await secondRound;
    await loop.stop();
    expect(rounds).toBeGreaterThanOrEqual(2);
  });

  it('after a notify, lingers before the next round, so writes that come meanwhile share it', async () => {
    /** Records how each of the loop's waits ended (true: a notify, or one was pending). */
    class Recorded extends Wakeup {
      readonly ended: boolean[] = [];
      override async wait(ms: number): Promise<boolean> {
        const notified = await super.wait(ms);
        this.ended.push(notified);
        return notified;
      }
    }
    const wakeup = new Recorded();
    const rounds: number[] = [];
    let roundRan: () => void = () => undefined;
    const loop = new RoundLoop(
      () => {
        rounds.push(Date.now());
        roundRan();
        return Promise.resolve({ more: false });
      },
      wakeup,
      60_000,
      (err) => {
        throw err;
      },
      100,
    );
    const nextRound = () => new Promise<void>((done) => (roundRan = done));
    let ran = nextRound();
    loop.start();
    try {
      await ran;
      await new Promise((r) => setImmediate(r)); // the loop now waits for work
      ran = nextRound();
      const notifiedAt = Date.now();
      wakeup.notify();
      wakeup.notify(); // a second writer during the linger: no round of its own
      await ran;
      expect((rounds[1] as number) - notifiedAt).toBeGreaterThanOrEqual(95);
      // The loop's next wait is for new work (60 s), not a notify left over from the linger.
      await new Promise((r) => setImmediate(r));
      expect(wakeup.ended).toEqual([true]);
      expect(rounds).toHaveLength(2);
    } finally {
      await loop.stop();
    }
  });
});
