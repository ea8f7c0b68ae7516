import { GroupCommit } from './group-commit';

describe('GroupCommit', () => {
  it('writes the first item at once, then everything that arrived meanwhile in one batch (up to the limit)', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const group = new GroupCommit<number, string>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
      return items.map((i) => `#${i}`);
    }, 3);
    const answers = [1, 2, 3, 4, 5, 6].map((i) => group.submit(i));
    expect(batches).toEqual([[1]]);
    release();
    expect(await Promise.all(answers)).toEqual(['#1', '#2', '#3', '#4', '#5', '#6']);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('a failed batch fails each of its items, and the next batch is written', async () => {
    const group = new GroupCommit<number, number>(
      (items) =>
        items.includes(1)
          ? Promise.reject(new Error('database gone'))
          : Promise.resolve(items.map((i) => i * 10)),
      10,
    );
    const first = group.submit(1);
    const second = group.submit(2);
    await expect(first).rejects.toThrow('database gone');
    await expect(second).resolves.toBe(20);
  });

  it('with several in flight, writes at once while fewer are on their way, then batches what waits', async () => {
    const batches: number[][] = [];
    const releases: Array<() => void> = [];
    const group = new GroupCommit<number, number>(
      async (items) => {
        batches.push(items);
        await new Promise<void>((r) => releases.push(r));
        return items;
      },
      10,
      2,
    );
    const answers = [1, 2, 3, 4, 5].map((i) => group.submit(i));
    expect(batches).toEqual([[1], [2]]);
    releases[0]?.();
    await expectBatches(batches, 3);
    expect(batches[2]).toEqual([3, 4, 5]);
    for (const release of releases) release();
    expect(await Promise.all(answers)).toEqual([1, 2, 3, 4, 5]);
  });
});

/** Waits (a few event-loop turns) until `batches` holds `n`. */
async function expectBatches(batches: unknown[], n: number): Promise<void> {
  for (let turn = 0; turn < 100 && batches.length < n; turn += 1)
    await new Promise<void>((r) => setImmediate(r));
  expect(batches).toHaveLength(n);
}
