import { GroupCommit } from '@lienthong/persistence';

export interface BatchedWriteOptions<T, R> {
  /** Writes `round` in one statement: an answer per item, in order. Never given two items that share a key. */
  write: (round: T[]) => Promise<R[]>;
  /**
   * Keys two items of one statement must not share: an id (a second insert of it must see the
   * first), or what the statement checks against what was committed before it (a birth
   * certificate used once).
   */
  keysOf?: (item: T) => string[];
  /** Items in one statement at most (default 64). */
  maxBatch?: number;
  /**
   * Statements on their way at once at most (GroupCommit's maxInFlight; default 2): an item waits
   * to be batched only while this many are. In bench:registries (test/bench/RESULTS.md), one at a
   * time capped the rate at a batch per statement's time (the pushes' median wait for the
   * registry's acceptance at 500 registrations/s went from 66–145 ms to 412–607); four left the
   * batches small (all processes' CPU per registration 3.30–3.48 ms, against 2.92–3.12 with two).
   */
  inFlight?: number;
}

/**
 * Writes that arrive together (concurrent requests to a simulated portal), made in one statement:
 * a statement per request cost PostgreSQL mostly the statement and its commit, not the rows
 * (test/bench/RESULTS.md). A group commit (GroupCommit) gathers what arrives while `inFlight`
 * statements are on their way; items sharing a key go in statements one after the other, in
 * arrival order; a statement that fails is made again one item at a time, so that an item the
 * database refuses fails alone (its error is its answer) and the others are written.
 */
export class BatchedWrite<T, R> {
  private readonly group: GroupCommit<T, { answer: R } | { error: unknown }>;

  constructor(private readonly options: BatchedWriteOptions<T, R>) {
    this.group = new GroupCommit(
      (batch) => this.store(batch),
      options.maxBatch ?? 64,
      options.inFlight ?? 2,
    );
  }

  async write(item: T): Promise<R> {
    const outcome = await this.group.submit(item);
    if ('error' in outcome) throw outcome.error;
    return outcome.answer;
  }

  private async store(batch: T[]): Promise<Array<{ answer: R } | { error: unknown }>> {
    const outcomes = new Array<{ answer: R } | { error: unknown }>(batch.length);
    let rest = batch.map((item, i) => ({ item, i }));
    while (rest.length > 0) {
      const taken = new Set<string>();
      const round: typeof rest = [];
      const later: typeof rest = [];
      for (const entry of rest) {
        const keys = this.options.keysOf?.(entry.item) ?? [];
        if (keys.some((k) => taken.has(k))) later.push(entry);
        else {
          for (const k of keys) taken.add(k);
          round.push(entry);
        }
      }
      try {
        const answers = await this.options.write(round.map((e) => e.item));
        round.forEach((e, n) => (outcomes[e.i] = { answer: answers[n] as R }));
      } catch (err) {
        for (const e of round)
          outcomes[e.i] =
            round.length === 1
              ? { error: err }
              : await this.options.write([e.item]).then(
                  ([answer]) => ({ answer: answer as R }),
                  (error: unknown) => ({ error }),
                );
      }
      rest = later;
    }
    return outcomes;
  }
}
