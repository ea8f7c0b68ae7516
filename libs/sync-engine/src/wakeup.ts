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
