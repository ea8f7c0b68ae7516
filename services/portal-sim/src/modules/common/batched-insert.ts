import { GroupCommit } from '@lienthong/persistence';

export interface BatchedInsertOptions<T> {
  /**
   * Inserts the rows of `round` the portal does not hold yet, in one statement, and returns the ids
   * it inserted (the others it held already). Never given one id or one exclusive key twice.
   */
  insert: (round: T[]) => Promise<Set<string>>;
  /** The row's id: what `insert` returns when it inserted the row. */
  idOf: (item: T) => string;
  /**
   * Besides the id, keys two rows of one statement must not share, because the statement checks
   * them against what was committed before it (a birth certificate used once).
   */
  exclusiveKeysOf?: (item: T) => string[];
  /** Rows in one statement at most. */
  maxBatch: number;
  /** Statements on their way at once at most (GroupCommit's maxInFlight). */
  inFlight: number;
}

/**
 * Inserts of new rows that arrive together (concurrent requests of a simulated portal), written
 * in one statement: a statement per row cost PostgreSQL mostly the statement and its commit, not
 * the row (test/bench/RESULTS.md). A group commit (GroupCommit) gathers the rows that arrive while
 * `inFlight` statements are on their way; rows sharing an id or an exclusive key go in statements
 * one after the other, in arrival order; a statement that fails is tried again one row at a time,
 * so that a row the database refuses fails alone (its error is its answer) and the others are
 * stored.
 */
export class BatchedInsert<T> {
  private readonly group: GroupCommit<T, boolean | Error>;

  constructor(private readonly options: BatchedInsertOptions<T>) {
    this.group = new GroupCommit((batch) => this.store(batch), options.maxBatch, options.inFlight);
  }

  /** Inserts the row unless the portal holds one with its id: whether it was inserted. */
  async insert(item: T): Promise<boolean> {
    const answer = await this.group.submit(item);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  private async store(batch: T[]): Promise<Array<boolean | Error>> {
    const { idOf, exclusiveKeysOf } = this.options;
    const answers = new Array<boolean | Error>(batch.length);
    let rest = batch.map((item, i) => ({ item, i }));
    while (rest.length > 0) {
      const taken = new Set<string>();
      const round: typeof rest = [];
      const later: typeof rest = [];
      for (const entry of rest) {
        const keys = [`id:${idOf(entry.item)}`, ...(exclusiveKeysOf?.(entry.item) ?? [])];
        if (keys.some((k) => taken.has(k))) later.push(entry);
        else {
          for (const k of keys) taken.add(k);
          round.push(entry);
        }
      }
      try {
        const inserted = await this.options.insert(round.map((e) => e.item));
        for (const e of round) answers[e.i] = inserted.has(idOf(e.item));
      } catch (err) {
        for (const e of round)
          answers[e.i] =
            round.length === 1
              ? asError(err)
              : await this.options.insert([e.item]).then((ids) => ids.has(idOf(e.item)), asError);
      }
      rest = later;
    }
    return answers;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
