import { BatchedWrite } from './batched-write';

interface Item {
  id: string;
  key?: string;
}

/**
 * A BatchedWrite of inserts into an in-memory table: answers whether each row was inserted, and
 * records each statement's rows. `refuse`: ids for which the "database" fails a statement.
 */
function table(refuse: string[] = [], held: string[] = []) {
  const rows = new Set(held);
  const statements: string[][] = [];
  let release: () => void = () => undefined;
  let first = true;
  const batched = new BatchedWrite<Item, boolean>({
    write: async (round) => {
      statements.push(round.map((r) => r.id));
      // The first statement waits until released, so that the next items queue behind it.
      if (first) {
        first = false;
        await new Promise<void>((r) => (release = r));
      }
      const bad = round.find((r) => refuse.includes(r.id));
      if (bad) throw new Error(`cannot store ${bad.id}`);
      return round.map((r) => !rows.has(r.id) && Boolean(rows.add(r.id)));
    },
    keysOf: (r) => [`id:${r.id}`, ...(r.key ? [r.key] : [])],
    maxBatch: 10,
    inFlight: 1,
  });
  return { batched, statements, rows, release: () => release() };
}

describe('BatchedWrite', () => {
  it('writes what arrives while a statement is on its way in one statement, and answers each', async () => {
    const t = table([], ['b']);
    const answers = ['a', 'b', 'c', 'd'].map((id) => t.batched.write({ id }));
    t.release();
    expect(await Promise.all(answers)).toEqual([true, false, true, true]);
    expect(t.statements).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('never puts two items sharing a key in a statement: the second goes in the next, in order', async () => {
    const t = table();
    const answers = [
      { id: 'first' },
      { id: 'a', key: 'cert-1' },
      { id: 'b', key: 'cert-1' },
      { id: 'a' },
      { id: 'c', key: 'cert-2' },
    ].map((item) => t.batched.write(item));
    t.release();
    expect(await Promise.all(answers)).toEqual([true, true, true, false, true]);
    expect(t.statements).toEqual([['first'], ['a', 'c'], ['b', 'a']]);
  });

  it('a statement that fails is made again one item at a time: only the item the database refuses fails', async () => {
    const t = table(['bad']);
    const answers = ['first', 'a', 'bad', 'b'].map((id) => t.batched.write({ id }));
    t.release();
    const settled = await Promise.allSettled(answers);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(settled[2]).toMatchObject({ reason: new Error('cannot store bad') });
    expect([...t.rows].sort()).toEqual(['a', 'b', 'first']);
    expect(t.statements).toEqual([['first'], ['a', 'bad', 'b'], ['a'], ['bad'], ['b']]);
  });
});
