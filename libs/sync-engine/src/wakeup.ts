import { setTimeout as delay } from 'node:timers/promises';

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

  /** Forgets a notify nobody waited for: the round about to start will see that work. */
  absorb(): void {
    this.pending = false;
  }

  /** Waits; true when a notify ended the wait (or was pending), false when `ms` ran out. */
  wait(ms: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise((done) => {
      const end = (notified: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        done(notified);
      };
      const wake = () => end(true);
      const timer = setTimeout(() => end(false), ms);
      this.waiters.add(wake);
    });
  }
}

/**
 * What a round did: how much work it found, or whether more may be waiting. A round that took less
 * than its batch limit took everything there was: running it again at once would only find nothing
 * (a round trip to the database for each round that did work: half of the outbox relay's reads).
 */
export type RoundResult = number | { more: boolean };

/**
 * A worker loop: runs `round` again at once while more work may be waiting (it found some, or
 * says so), and after `idleMs` — or sooner, on a notify — when not. A notify that came during a
 * round is remembered (see Wakeup), so work committed meanwhile is not left for the idle wait. A
 * failed round is reported and the loop goes on. `stop()` lets the round in progress finish.
 *
 * `lingerMs`: after a notify, the next round waits that much longer, so the work of writers that
 * finish close together goes in one round (Kafka producers' `linger.ms`, for the same reason): a
 * round costs about the same for one row as for many, and without it nearly every outcome's
 * outbox row was published in a round of its own (bench:dossier's pushes).
 */
export class RoundLoop {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly round: () => Promise<RoundResult>,
    private readonly wakeup: Wakeup,
    private readonly idleMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly lingerMs = 0,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const result = await this.round().catch((err: unknown): RoundResult => {
          this.onError(err);
          return 0;
        });
        const more = typeof result === 'number' ? result > 0 : result.more;
        if (!more && this.running && (await this.wakeup.wait(this.idleMs)) && this.lingerMs > 0) {
          await delay(this.lingerMs);
          // Work committed during the linger is read by the round that starts now.
          this.wakeup.absorb();
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }
}
