/**
 * An in-process nudge for a polling loop: `wait(ms)` returns after `ms` or as soon as someone calls
 * `notify()`, whichever comes first; a notify with nobody waiting is remembered for the next wait.
 * The ledger stays the source of truth (another instance's work is still found by polling); this
 * only removes the idle delay between "work committed here" and "work picked up here".
 */
export class Wakeup {
  private readonly waiters = new Set<() => void>();
  private pending = false;

  notify(): void {
    if (this.waiters.size === 0) {
      this.pending = true;
      return;
    }
    for (const wake of [...this.waiters]) wake();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((done) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        done();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }
}

/**
 * A worker loop: runs `round` again at once while it finds work (it returns how much), and after
 * `idleMs` — or sooner, on a notify — when it finds none. A failed round is reported and the loop
 * goes on. `stop()` lets the round in progress finish.
 */
export class RoundLoop {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly round: () => Promise<number>,
    private readonly wakeup: Wakeup,
    private readonly idleMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const n = await this.round().catch((err: unknown) => {
          this.onError(err);
          return 0;
        });
        if (n === 0 && this.running) await this.wakeup.wait(this.idleMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }
}
