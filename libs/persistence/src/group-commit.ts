/**
 * Group commit: writes that arrive while a batch is being written wait and go together in the next
 * batch (the ledger's lease renewals and push outcomes, a consumer's Kafka offset commits). The first write after a quiet spell goes alone at once (no timer, no added latency); under
 * load, batches grow by themselves to however many writes arrived during the last one.
 *
 * Written by hand because the batching libraries batch per tick (DataLoader) or per time window:
 * pushes finish on different ticks, as their portal answers arrive, so a per-tick batch is nearly
 * always one write, and a time window adds its length to every write when the load is light.
 *
 * `write(items)` answers each item in order. When it throws, the whole batch fails with its error
 * (the caller decides what a failed batch means for each item).
 *
 * `maxInFlight` batches are written at once at most (default one). With more, a write starts at
 * once while fewer are on their way, and writes queue (and so batch) only once that many are: for
 * writers whose writes do not have to follow each other, where one batch at a time caps the rate
 * at a batch per statement's time (portal-sim's new registrations).
 */
export class GroupCommit<T, R> {
  private queue: Array<{ item: T; done: (r: R) => void; fail: (e: unknown) => void }> = [];
  private writing = 0;

  constructor(
    private readonly write: (items: T[]) => Promise<R[]>,
    private readonly maxBatch: number,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((done, fail) => {
      this.queue.push({ item, done, fail });
      if (this.writing < this.maxInFlight) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing += 1;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const answers = await this.write(batch.map((b) => b.item));
        batch.forEach((b, i) => b.done(answers[i] as R));
      } catch (err) {
        for (const b of batch) b.fail(err);
      }
    }
    this.writing -= 1;
  }
}
