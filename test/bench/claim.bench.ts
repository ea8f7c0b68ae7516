// `npm run bench:claim` — a benchmark, not a test: what a dispatcher's claim costs the database as
// the number of communes with due work grows (24 in the other benches' fixtures, about 100–170 in
// a large province, 3,321 in the country).
//
// Per commune count (BENCH_CLAIM_COMMUNES), on a fresh ledger schema: BENCH_CLAIM_ROWS pending
// dossiers (three unpushed steps each) spread evenly over the communes, all due; then a Dispatcher
// claims BENCH_CLAIM_SIZE rows BENCH_CLAIM_ROUNDS times (leases pile up as they do under pushes in
// flight; nothing is pushed). Twice: first with the claim's plan made on the empty, never analysed
// table (as a new service's first claim makes it; the claim is a prepared statement with a generic
// plan, kept until the table is analysed), then after ANALYZE. Printed: the claim's median and p95
// wall time after ANALYZE, each ÷ the claim at the smallest count and ÷ a `select 1` round trip
// measured in the same run (the floor of any statement), the median with the plan made on the
// empty table ÷ the one after ANALYZE, and how many communes the first claims reached (up to
// communes ÷ size claims), ÷ as many as they could: claims take turns across communes, so all of
// them when the rotation works.
//
//   npm run bench:claim          (BENCH_WRITE_RESULTS=1 rewrites its block in RESULTS.md)
import { randomUUID } from 'node:crypto';
import { openDataSource } from '@lienthong/persistence';
import { Dispatcher, PushTarget, SYNC_LEDGER_MIGRATIONS } from '@lienthong/sync-engine';
import type { PushReceipt } from '@lienthong/sync-engine';
import {
  commandLine,
  fmt,
  knob,
  knobList,
  log,
  median,
  percentile,
  postgresVersion,
  runMain,
  stackUp,
  versions,
  writeResults,
} from './bench-kit';

const COMMUNES = knobList('BENCH_CLAIM_COMMUNES', '24,168,3321');
const ROWS = knob('BENCH_CLAIM_ROWS', 20_000);
const SIZE = knob('BENCH_CLAIM_SIZE', 8);
const ROUNDS = knob('BENCH_CLAIM_ROUNDS', 60);

/** Never asked to push: the bench measures claims alone. */
class IdleTarget extends PushTarget {
  readonly target = 'dvcqg' as const;
  readonly domain = 'dossier' as const;
  blocked(): boolean {
    return false;
  }
  push(): Promise<PushReceipt> {
    return Promise.reject(new Error('bench:claim does not push'));
  }
}

/** The dispatcher's claim, which it runs before every round of pushes (private to the pool). */
type Claiming = {
  claim(limit: number): Promise<Claimed[] | { rows: Claimed[] }>;
};
type Claimed = { communeCode: string };

/** What `work` returns, and its wall time in ms. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = process.hrtime.bigint();
  const value = await work();
  return { value, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

interface Figures {
  communes: number;
  /** The claim's median with its plan made on the empty table, before any ANALYZE. */
  coldMedianMs: number;
  medianMs: number;
  p95Ms: number;
  reached: number;
  roundTripMs: number;
}

/**
 * BENCH_CLAIM_ROUNDS claims of BENCH_CLAIM_SIZE: their median and p95 wall time, and the share of
 * communes the first ones reached (of as many as they could: communes ÷ size claims).
 */
async function claims(
  dispatcher: Claiming,
  communes: number,
): Promise<{ medianMs: number; p95Ms: number; reached: number }> {
  const times: number[] = [];
  const reached = new Set<string>();
  const rotation = Math.ceil(communes / SIZE);
  for (let round = 0; round < ROUNDS; round += 1) {
    const { value: claimed, ms } = await timed(() => dispatcher.claim(SIZE));
    times.push(ms);
    // Before the walk was bounded (aae2ec4 and earlier) the claim returned the rows alone.
    const rows = Array.isArray(claimed) ? claimed : claimed.rows;
    if (round < rotation) for (const row of rows) reached.add(row.communeCode);
  }
  return {
    medianMs: median(times),
    p95Ms: percentile(
      [...times].sort((a, b) => a - b),
      95,
    ),
    reached: reached.size / Math.min(communes, Math.min(rotation, ROUNDS) * SIZE),
  };
}

async function main(): Promise<void> {
  const stack = stackUp();
  const schema = `bench_claim_${Date.now().toString(36)}`;
  const ds = await openDataSource({
    url: stack.databaseUrl,
    schema,
    migrations: SYNC_LEDGER_MIGRATIONS,
    applicationName: 'bench-claim',
    poolSize: 2,
  });
  const figures: Figures[] = [];
  try {
    for (const communes of COMMUNES) {
      log(`${fmt(communes)} communes, ${fmt(ROWS)} due dossiers`);
      await ds.query('truncate sync_entity, sync_entity_part');
      const dispatcher = new Dispatcher({
        dataSource: ds,
        pushTarget: new IdleTarget(),
        owner: `bench-${randomUUID().slice(0, 8)}`,
        retry: {
          initialIntervalMs: 1000,
          backoffCoefficient: 2,
          maximumIntervalMs: 60_000,
          maximumAttempts: 0,
        },
        leaseMs: 600_000,
        concurrency: SIZE,
        idleMs: 1000,
      }) as unknown as Claiming;
      // Both pooled connections plan the claim now, on the empty table (TRUNCATE made any plan
      // made before stale), and keep that plan until the ANALYZE below.
      await Promise.all([dispatcher.claim(SIZE), dispatcher.claim(SIZE)]);
      await ds.query(
        `insert into sync_entity (entity_type, entity_key, commune_code, target, source_sequence,
           desired, desired_fingerprint, state, next_attempt_at)
         select 'dossier', 'D' || g, lpad((g % $1)::text, 5, '0'), 'dvcqg', 1, '{}', 'fp', 'PENDING',
           now() - interval '1 minute' + g * interval '1 ms'
         from generate_series(1, $2) g`,
        [communes, ROWS],
      );
      await ds.query(
        `insert into sync_entity_part (entity_type, entity_key, part_key, source_sequence, payload, commune_code)
         select 'dossier', 'D' || g, 'S' || s, s, '{}', lpad((g % $1)::text, 5, '0')
         from generate_series(1, $2) g, generate_series(1, 3) s`,
        [communes, ROWS],
      );
      const cold = await claims(dispatcher, communes);
      await ds.query('analyze sync_entity, sync_entity_part');
      const analysed = await claims(dispatcher, communes);
      const trips: number[] = [];
      for (let i = 0; i < ROUNDS; i += 1) trips.push((await timed(() => ds.query('select 1'))).ms);
      figures.push({
        communes,
        coldMedianMs: cold.medianMs,
        medianMs: analysed.medianMs,
        p95Ms: analysed.p95Ms,
        reached: cold.reached,
        roundTripMs: median(trips),
      });
    }
  } finally {
    await ds.query(`drop schema ${schema} cascade`).catch(() => undefined);
    await ds.destroy();
  }
  const base = figures[0] as Figures;
  const lines = [
    `claim benchmark: ${new Date().toISOString().slice(0, 10)}, ${versions(await postgresVersion(stack.databaseUrl))}; claims of ${SIZE}, ${fmt(ROWS)} due dossiers, ${ROUNDS} claims per count`,
    '',
    '| communes with due work | claim, median ms | p95 ms | ÷ the claim at the smallest count | ÷ a `select 1` round trip | plan made on the empty table: median ms | ÷ after ANALYZE | communes its first claims reached ÷ as many as they could |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...figures.map(
      (f) =>
        `| ${fmt(f.communes)} | ${fmt(f.medianMs, 2)} | ${fmt(f.p95Ms, 2)} | ${fmt(f.medianMs / base.medianMs, 2)} | ${fmt(f.medianMs / f.roundTripMs, 1)} | ${fmt(f.coldMedianMs, 2)} | ${fmt(f.coldMedianMs / f.medianMs, 2)} | ${fmt(100 * f.reached)} % |`,
    ),
    '',
    `Command: \`${commandLine('bench:claim', {
      BENCH_CLAIM_COMMUNES: COMMUNES.join(','),
      BENCH_CLAIM_ROWS: ROWS,
      BENCH_CLAIM_SIZE: SIZE,
      BENCH_CLAIM_ROUNDS: ROUNDS,
    })}\``,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.BENCH_WRITE_RESULTS === '1') writeResults('claim', lines.join('\n'));
}

runMain(main);
