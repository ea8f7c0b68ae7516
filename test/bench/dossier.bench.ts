// `npm run bench:dossier` — a benchmark, not a test. Dossier events through Lienthong
// (dossier-sync: transactional batches into the ledger, dispatcher pushing to DVCQG), each figure
// next to the limit it is bounded by, measured in the same run on the same machine:
//
//   ceilings  1. the database: a raw batched upsert of the same rows (dedupe insert, latest header
//                per dossier, new steps) into the same PostgreSQL, as many connections as
//                dossier-sync consumes partitions, no Kafka, no validation;
//             2. the portal: a plain load generator sending DVCQG the request mix a dossier needs
//                (an insert of its header, its steps ten per call) straight to portal-sim;
//   Lienthong 3. ingest: BENCH_EVENTS events already on the topic, dossier-sync started; the
//                sustained rate into the ledger (committed) and where the CPU went meanwhile;
//             4. end to end: until every dossier is SYNCED at DVCQG, in dossiers/s against (2);
//             5. latency event → SYNCED at each of BENCH_RATES offered, BENCH_LATENCY_SECONDS each;
//             6. backlog drain: DVCQG down for BENCH_OUTAGE_SECONDS while BENCH_OUTAGE_RATE events/s
//                arrive; the time from its recovery until every dossier is SYNCED;
//             7. peak RSS of dossier-sync, and DVCQG holds exactly what was sent;
//   baseline  8. (BENCH_BASELINE=off skips it) a stock NestJS @EventPattern consumer calling DVCQG
//                per message, on BENCH_BASELINE_EVENTS events; a phase it cannot finish within
//                BENCH_BASELINE_DEADLINE_SECONDS is reported as not finished, not failed.
//
// BENCH_INSTANCES=<n> (default 1) runs n dossier-sync processes in one consumer group, as a
// deployment scales out: ingest is then measured from the moment the group has all n members
// (events already taken by the first are left out), the CPU of all of them counts as the
// service's, and RSS is the largest instance's.
// BENCH_INGEST_ALONE=1 keeps DVCQG down while ingest is measured (3): dossier-sync ingests without
// pushing (its breaker opens), so ingest's own cost is measured, not its share of a machine that
// also pushes; DVCQG comes back before (4). The pushes that follow are then reported on their own:
// their rate over the phase, the wait for the first outcome after DVCQG's return (the breaker's
// half-open probe) and the rate from the first outcome to the last.
// BENCH_RUNS repeats 1–7 (fresh topics, schemas and processes each time) and reports medians.
// BENCH_CPU_PROF=<dir> writes dossier-sync's CPU profiles there and prints summaries: one of the
// ingest phase, one of the rest (dossier-sync is restarted after ingest, so end to end then
// includes a restart: a profiling run's figures are not the bench's figures).
// BENCH_DATABASE_SOCKET=<dir> (e.g. /var/run/postgresql) connects everything to PostgreSQL over its
// Unix socket instead of TCP, where the server runs on this host (the header says which).
// BENCH_COUNT_STATEMENTS=1 has every process the bench starts count its node-postgres statements
// and the time it waited for their answers (test/bench/statement-counter.cjs), and the report's
// statement tables show those counts, per process, where pg_stat_statements is not loaded.
// BENCH_WRITE_RESULTS=1 puts the printed results into test/bench/RESULTS.md (between its markers).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { TOPICS } from '@lienthong/contracts';
import { DVCQG_OK, STEPS_PER_CALL, toWireHeader, toWireStep } from '@lienthong/portal-clients';
import type { DvcqgResponse } from '@lienthong/portal-clients';
import {
  Rng,
  SIMULATOR_ADMIN_TOKEN,
  dossierLifecycle,
  kafkaPrincipalSasl,
  lifecycleRecords,
} from '@lienthong/testing';
import type { DossierLifecycle } from '@lienthong/testing';
import {
  benchProducer,
  GOALS,
  closedLoop,
  loadClient,
  portalLimitRow,
  syncCpuAccount,
  syncServiceEnv,
  cpuPerEventLine,
  cpuPerUnitLine,
  cpuProfArgs,
  profileLines,
  phaseCpuLines,
  limitCpuAccount,
  commandLine,
  machineBoundLines,
  figureRow,
  knob,
  knobList,
  committedRecords,
  measureIngest,
  setPortalFaults,
  PARTITIONS_CONSUMED_CONCURRENTLY,
  StatementAccount,
  statementLines,
  StatusWatch,
  build,
  databaseCeiling,
  dropSchemas,
  fmt,
  freePort,
  log,
  median,
  offeredTimes,
  peakRssMiB,
  percentile,
  slowHalfSeconds,
  latencyStages,
  postgresVersion,
  produceAll,
  producePaced,
  profileSummary,
  runMain,
  runtimeLine,
  sha256,
  stackUp,
  startPortalSim,
  loopMeter,
  startProcess,
  stopProcess,
  syncBenchKnobs,
  versions,
  waitFor,
  writeResults,
} from './bench-kit';
import type { CeilingRow, CpuAccount, Goal, Paced, Stack, StatementFigure } from './bench-kit';

const {
  EVENTS,
  RATES,
  LATENCY_SECONDS,
  OUTAGE_SECONDS,
  OUTAGE_RATE,
  RUNS,
  PORTAL_CONCURRENCY,
  PORTAL_SECONDS,
  CEILING_BATCH,
} = syncBenchKnobs(100_000);
const BASELINE = process.env.BENCH_BASELINE !== 'off';
const BASELINE_EVENTS = knob('BENCH_BASELINE_EVENTS', 4_096);
const INSTANCES = knob('BENCH_INSTANCES', 1);
const INGEST_ALONE = process.env.BENCH_INGEST_ALONE === '1';
const BASELINE_RATES = knobList('BENCH_BASELINE_RATES', '50,100');
const BASELINE_DEADLINE_SECONDS = knob('BENCH_BASELINE_DEADLINE_SECONDS', 150);
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
const PARTITIONS = 12;
const runId = Date.now().toString(36);
const DVCQG = { username: 'lienthong', password: 'lienthong-dvcqg', unit: 'H56' };

/** Dossier lifecycles with codes unique within a workload (the suffix has four digits). */
class Workload {
  private n = 0;

  constructor(private readonly firstDay: string) {}

  next(): DossierLifecycle {
    const n = this.n++;
    const day = new Date(Date.parse(this.firstDay) + Math.floor(n / 9999) * 86_400_000);
    return dossierLifecycle(new Rng(n + 1), {
      number: (n % 9999) + 1,
      submittedOn: day.toISOString().slice(0, 10),
    });
  }

  /** Whole lifecycles until at least `events` events. */
  take(events: number): DossierLifecycle[] {
    const lives: DossierLifecycle[] = [];
    for (let total = 0; total < events;) {
      const life = this.next();
      lives.push(life);
      total += life.events.length;
    }
    return lives;
  }
}

function records(lives: DossierLifecycle[]): Paced[] {
  return lives.flatMap((life) =>
    lifecycleRecords(life).map((record, i) => ({
      key: life.code,
      sequence: life.events[i]?.sequence ?? 0,
      record,
    })),
  );
}

const eventCount = (lives: DossierLifecycle[]) => lives.reduce((s, l) => s + l.events.length, 0);

/** Ceiling 1's rows: the ledger rows of the same events (see bench-kit's databaseCeiling). */
function ceilingRows(lives: DossierLifecycle[]): CeilingRow[] {
  return lives.flatMap((life) =>
    lifecycleRecords(life).map((record, i) => {
      const event = life.events[i] as DossierLifecycle['events'][number];
      const json = JSON.stringify(event.data);
      return {
        source: `/communes/${life.commune.code}/mot-cua`,
        id: String(record.headers.ce_id),
        entityType: 'dossier',
        key: life.code,
        commune: life.commune.code,
        target: 'dvcqg',
        sequence: event.sequence,
        kind: event.kind === 'step' ? 'part' : 'snapshot',
        part: event.kind === 'step' ? event.data.MaBuocXuLy : '',
        json,
        fp: sha256(json),
      };
    }),
  );
}

/**
 * Ceiling 2: DVCQG's capacity for what a new dossier needs — an insert of its final
 * header, its steps ten per call — from PORTAL_CONCURRENCY keep-alive callers with one session,
 * for PORTAL_SECONDS after a one-second warm-up. Dossiers and calls per second.
 */
async function portalCapacity(baseUrl: string, workload: Workload, account: CpuAccount) {
  const client = loadClient(baseUrl, PORTAL_CONCURRENCY);
  const post = async (path: string, body: object) => {
    const res = await client.post(path, body);
    const answer = res.body as unknown as DvcqgResponse;
    if (res.status !== 200 || !DVCQG_OK(answer.error_code))
      throw new Error(`portal load: ${path} HTTP ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  try {
    const { session } = (await post('/dvcqg/auth', {
      username: DVCQG.username,
      password: DVCQG.password,
    })) as DvcqgResponse & { session: string };
    const call = (service: string, payload: object) =>
      post('/dvcqg/api', { session, madonvi: DVCQG.unit, service, ...payload });
    const capacity = await closedLoop(
      PORTAL_CONCURRENCY,
      PORTAL_SECONDS,
      async () => {
        const life = workload.next();
        await call('DongBoHoSoMC', { isUpdating: 'False', data: [toWireHeader(life.final)] });
        let n = 1;
        for (let i = 0; i < life.steps.length; i += STEPS_PER_CALL) {
          await call('CapNhatTienDoHoSoMC', {
            data: life.steps.slice(i, i + STEPS_PER_CALL).map(toWireStep),
          });
          n += 1;
        }
        return n;
      },
      account,
    );
    return {
      dossiersPerSecond: capacity.perSecond,
      callsPerSecond: capacity.callsPerSecond,
      cpu: capacity.cpu,
    };
  } finally {
    await client.close();
  }
}

/** Event-loop shares of the runs, as percentages ('—' where not read). */
function loopShares(shares: Array<number | undefined>): string {
  return shares.map((v) => (v === undefined ? '—' : `${fmt(100 * v)} %`)).join(' / ');
}

interface RunFigures {
  databaseCeiling: number;
  portalDossiers: number;
  portalCalls: number;
  ingest: number;
  ingestVsCeiling: number;
  endToEndDossiers: number;
  endToEndEvents: number;
  endToEndVsPortal: number;
  /** Dossiers pushed per second after ingest, until every one was SYNCED. */
  pushDossiers: number;
  /**
   * The same pushes read from the ledger's own clock (BENCH_INGEST_ALONE=1): seconds from DVCQG's
   * return to the first outcome recorded, and dossiers per second from the first outcome to the last.
   */
  pushFirstSeconds: number;
  pushFromFirstDossiers: number;
  /** Per offered rate: the percentiles, and each process's share of all cores while offered. */
  latency: Array<{
    rate: number;
    p50: number;
    p95: number;
    p99: number;
    cpu: Record<string, number>;
  }>;
  drainSeconds: number;
  /** The outage's backlog in dossiers ÷ portal-sim's limit: how long portal-sim itself takes for it. */
  drainAtPortalSeconds: number;
  peakRssMiB: number;
  portalOk: boolean;
  /** Share of all cores per process during ingest, and from the end of ingest until every dossier was SYNCED. */
  cpu: Record<string, number>;
  cpuPush: Record<string, number>;
  /** Share of all cores per process while the load generator measured portal-sim's limit. */
  cpuPortal: Record<string, number>;
  /** How busy dossier-sync's event loop was, during ingest and after it (undefined: not read). */
  loop: { ingest?: number; push?: number };
  /** pg_stat_statements' top statements per phase (empty when the server does not load it). */
  statements: { ingest: StatementFigure[]; push: StatementFigure[]; pushed: number };
  profile?: Array<[string, number]>;
  /** The profile of what followed ingest (end to end, latency, outage): pushes mostly. */
  pushProfile?: Array<[string, number]>;
}

async function lienthongRun(stack: Stack, kafka: Kafka, run: number): Promise<RunFigures> {
  const prefix = `bench.${runId}.${run}`;
  const topic = `${prefix}.${TOPICS.communeDossierEvents}`;
  const statusTopic = `${prefix}.${TOPICS.syncStatus}`;
  const statusV2Topic = `${prefix}.${TOPICS.syncStatusV2}`;
  const topics = [topic, `${topic}.dlq.v1`, statusTopic, statusV2Topic];
  const schemas = {
    sim: `bench_${runId}_sim`,
    capacitySim: `bench_${runId}_cap`,
    ceiling: `bench_${runId}_ceil`,
    ledger: `bench_${runId}_ds`,
  };
  const db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  const statements = new StatementAccount(db);
  await statements.open();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((t) => ({ topic: t, numPartitions: PARTITIONS })),
  });
  const producer = await benchProducer(kafka);
  const processes: Array<Awaited<ReturnType<typeof startProcess>>> = [];
  const metricsUrl = new Map<Awaited<ReturnType<typeof startProcess>>, string>();
  const portalSim = async (schema: string) => {
    const sim = await startPortalSim(stack, schema, SIMULATOR_ADMIN_TOKEN);
    processes.push(sim.child);
    return sim;
  };
  const dossierSync = async (schema: string, simUrl: string, nodeArgs: string[] = []) => {
    const port = await freePort();
    const child = await startProcess(
      'dossier-sync',
      'services/dossier-sync/dist/main.js',
      {
        ...syncServiceEnv({
          databaseUrl: stack.databaseUrl,
          schema,
          port,
          topic,
          statusTopic,
          statusV2Topic,
        }),
        DVCQG_BASE_URL: simUrl,
      },
      { url: `http://127.0.0.1:${port}/health/ready` },
      nodeArgs,
    );
    processes.push(child);
    metricsUrl.set(child, `http://127.0.0.1:${port}/metrics`);
    return child;
  };
  let figures: RunFigures | undefined;
  try {
    const workload = new Workload('2025-07-01');
    const lives = workload.take(EVENTS);
    const load = records(lives);

    // 1. The database's ceiling, in a ledger schema dossier-sync's migrations made.
    log(`run ${run}: database ceiling (${load.length} events)`);
    const sim = await portalSim(schemas.sim);
    await stopProcess(await dossierSync(schemas.ceiling, sim.url));
    const ceiling = await databaseCeiling(stack.databaseUrl, schemas.ceiling, ceilingRows(lives), {
      connections: PARTITIONS_CONSUMED_CONCURRENTLY,
      batch: CEILING_BATCH,
    });
    log(`run ${run}: database ceiling ${fmt(ceiling)} events/s`);

    // 2. The portal's capacity, on a portal-sim of its own (its dossiers are not ours).
    const capacitySim = await portalSim(schemas.capacitySim);
    const capacity = await portalCapacity(
      capacitySim.url,
      new Workload('2024-01-01'),
      limitCpuAccount('dossier-sync', capacitySim.child.pid),
    );
    await stopProcess(capacitySim.child);
    log(`run ${run}: portal capacity ${fmt(capacity.dossiersPerSecond)} dossiers/s`);

    // 3. Ingest: everything on the topic first, then dossier-sync starts.
    const producedAt = Date.now();
    await produceAll(producer, topic, load);
    const produced = load.length / ((Date.now() - producedAt) / 1000);
    log(`run ${run}: ${load.length} events on the topic (${fmt(produced)}/s); dossier-sync starts`);
    const profiling = (phase: string) => cpuProfArgs(CPU_PROF_DIR, `${phase}-${runId}-${run}`);
    const faults = (profile: object) =>
      setPortalFaults(sim.url, 'dvcqg', SIMULATOR_ADMIN_TOKEN, profile);
    if (INGEST_ALONE) await faults({ down: true });
    const startedAt = Date.now();
    let service = await dossierSync(schemas.ledger, sim.url, profiling('ingest'));
    // More instances join the same consumer group (BENCH_INSTANCES).
    const others: Array<Awaited<ReturnType<typeof startProcess>>> = [];
    for (let i = 1; i < INSTANCES; i += 1) others.push(await dossierSync(schemas.ledger, sim.url));
    const instances = () => [service, ...others];
    const watch = new StatusWatch(kafka, statusV2Topic);
    await watch.start();
    const cpu = syncCpuAccount(
      'dossier-sync',
      () => instances().map((c) => c.pid),
      () => sim.child.pid,
    );
    const loops = (children: Array<Awaited<ReturnType<typeof startProcess>>>) => {
      const meters = children.map((c) => loopMeter(metricsUrl.get(c) as string));
      return {
        start: () => meters.forEach((m) => m.start()),
        stop: async () => {
          const shares = (await Promise.all(meters.map((m) => m.stop()))).filter(
            (v): v is number => v !== undefined,
          );
          return shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : undefined;
        },
      };
    };
    const loopIngest = loops(instances());
    if (INSTANCES > 1) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const groupId = `${topic}.${schemas.ledger}`;
        const joined = await waitFor(async () => {
          const { groups } = await admin.describeGroups([groupId]);
          return groups[0]?.state === 'Stable' && groups[0].members.length === INSTANCES;
        }, 120);
        if (!joined) throw new Error(`run ${run}: ${INSTANCES} instances never formed one group`);
      } finally {
        await admin.disconnect();
      }
      const before = await committedRecords(db, schemas.ledger, topic);
      // At least 20,000 events (or half of them) must be left to measure a sustained rate.
      if (load.length - before < Math.min(20_000, load.length / 2))
        throw new Error(
          `run ${run}: ${before} of ${load.length} events were ingested before all ${INSTANCES} instances had joined: raise BENCH_EVENTS`,
        );
      log(`run ${run}: ${INSTANCES} instances in the group (${before} events ingested before)`);
    }
    const ingested = () => committedRecords(db, schemas.ledger, topic);
    const { rate: ingest, first: firstAt } = await measureIngest(
      ingested,
      load.length,
      Math.max(300, EVENTS / 500),
      () => {
        cpu.start();
        loopIngest.start();
        void statements.reset();
      },
    );
    const cpuShares = cpu.stop();
    const loopDuringIngest = await loopIngest.stop();
    const ingestStatements = await statements.top(8);
    // What is left to push once ingest is in: with DVCQG down meanwhile (BENCH_INGEST_ALONE=1),
    // every dossier, so the phase that follows is the pushes alone.
    const unpushed = Number(
      (
        await db.query<{ n: string }>(
          `select count(*) n from "${schemas.ledger}".sync_entity where target = 'dvcqg' and state <> 'SYNCED'`,
        )
      ).rows[0]?.n,
    );
    log(
      `run ${run}: ingest ${fmt(ingest)} events/s${INGEST_ALONE ? ' (DVCQG down meanwhile)' : ''}`,
    );
    let profile: Array<[string, number]> | undefined;
    if (CPU_PROF_DIR) {
      // Restarted before the push phase's CPU is sampled: a sample across the restart would
      // subtract the old process's CPU from the new one's (and show dossier-sync at 0 %). And
      // before DVCQG returns: the old process would otherwise push while it stops, unmeasured.
      await stopProcess(service);
      profile = profileSummary(join(CPU_PROF_DIR, `ingest-${runId}-${run}.cpuprofile`));
      service = await dossierSync(schemas.ledger, sim.url, profiling('push'));
    }
    if (INGEST_ALONE) await faults({});
    const pushStartedAt = Date.now();
    cpu.start();
    await statements.reset();
    const loopPush = loops(instances());
    loopPush.start();

    // 4. End to end: every dossier SYNCED.
    // Called once every event offered is in the ledger: then nothing unsynced means all synced.
    // (Read through the partial index of unsynced rows: the bench's polling must not load the
    // database it measures.)
    const allSynced = async () =>
      (
        await db.query<{ done: boolean }>(
          `select not exists (select 1 from "${schemas.ledger}".sync_entity where target = 'dvcqg' and state <> 'SYNCED') done`,
        )
      ).rows[0]?.done === true;
    if (!(await waitFor(allSynced, Math.max(600, EVENTS / 100))))
      throw new Error(`run ${run}: not every dossier reached SYNCED`);
    // With several instances, from the start of the first (conservative: it includes starting
    // the others), since ingest was measured only once they had all joined.
    const e2eSeconds = (Date.now() - (INSTANCES > 1 ? startedAt : firstAt)) / 1000;
    const pushDossiers = unpushed / ((Date.now() - pushStartedAt) / 1000);
    // The phase's start waits for the breaker's half-open probe after DVCQG returns (its reset
    // timer, BREAKER_RESET_TIMEOUT_MS: up to 5 s of a phase of some ten seconds), which moves the
    // phase's rate from run to run; the outcomes' own times (updated_at, written by the outcome's
    // statement; nothing else writes these rows until the next phase) separate that wait from the
    // pushes. Only with BENCH_INGEST_ALONE=1: otherwise the pushes start during ingest.
    const outcomes = (
      await db.query<{ first: string | null; last: string | null }>(
        `select extract(epoch from min(updated_at)) * 1000 as first, extract(epoch from max(updated_at)) * 1000 as last
         from "${schemas.ledger}".sync_entity where target = 'dvcqg' and state = 'SYNCED'`,
      )
    ).rows[0];
    const pushFirstSeconds = (Number(outcomes?.first) - pushStartedAt) / 1000;
    const pushFromFirstDossiers =
      unpushed / Math.max(0.001, (Number(outcomes?.last) - Number(outcomes?.first)) / 1000);
    const cpuAfterIngest = cpu.stop();
    const loopAfterIngest = await loopPush.stop();
    const pushStatements = await statements.top(8);
    log(`run ${run}: every dossier SYNCED after ${fmt(e2eSeconds, 1)} s`);

    // 5. Latency at fixed offered rates.
    const latency: RunFigures['latency'] = [];
    const more: DossierLifecycle[] = [];
    for (const rate of RATES) {
      const phase = workload.take(rate * LATENCY_SECONDS);
      more.push(...phase);
      const paced = records(phase);
      cpu.start();
      const sentAt = await producePaced(producer, topic, paced, rate);
      const times = await offeredTimes(watch, paced, sentAt, 180);
      if (!times) throw new Error(`run ${run}: events offered at ${rate}/s never reached SYNCED`);
      latency.push({
        rate,
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        p99: percentile(times, 99),
        cpu: cpu.stop(),
      });
      log(
        `run ${run}: p99 at ${rate} events/s ${fmt(percentile(times, 99))} ms; ` +
          slowHalfSeconds(watch, paced, sentAt, rate),
      );
      log(`run ${run}: at ${rate} events/s, ${latencyStages(watch, paced, sentAt, rate)}`);
    }

    // 6. Backlog drain after a DVCQG outage.
    const outage = workload.take(OUTAGE_RATE * OUTAGE_SECONDS);
    more.push(...outage);
    log(`run ${run}: DVCQG down for ${OUTAGE_SECONDS} s at ${OUTAGE_RATE} events/s offered`);
    await faults({ down: true });
    const outageEvents = records(outage);
    await producePaced(producer, topic, outageEvents, OUTAGE_RATE);
    // Everything offered is in the ledger (waiting for DVCQG) before it comes back.
    const offered = load.length + eventCount(more);
    await waitFor(async () => (await ingested()) >= offered, 120);
    await faults({});
    const recovered = Date.now();
    if (!(await waitFor(allSynced, 900, 250)))
      throw new Error(`run ${run}: the backlog did not drain within 900 s`);
    const drainSeconds = (Date.now() - recovered) / 1000;
    log(`run ${run}: backlog of ${outage.length} dossiers drained in ${fmt(drainSeconds, 1)} s`);

    // 7. Memory, and what DVCQG holds.
    const peak = Math.max(...instances().map((c) => peakRssMiB(c)));
    const all = [...lives, ...more];
    const held = await db.query<{ dossiers: string; steps: string }>(
      `select (select count(*) from "${schemas.sim}".dvcqg_dossier) dossiers, (select count(*) from "${schemas.sim}".dvcqg_step) steps`,
    );
    const expectedSteps = all.reduce((s, l) => s + l.steps.length, 0);
    const row = held.rows[0] as { dossiers: string; steps: string };
    const portalOk = Number(row.dossiers) === all.length && Number(row.steps) === expectedSteps;
    if (!portalOk)
      log(
        `run ${run}: DVCQG holds ${row.dossiers} dossiers / ${row.steps} steps, expected ${all.length} / ${expectedSteps}`,
      );
    await watch.stop();
    const endToEndDossiers = lives.length / e2eSeconds;
    figures = {
      databaseCeiling: ceiling,
      portalDossiers: capacity.dossiersPerSecond,
      portalCalls: capacity.callsPerSecond,
      ingest,
      ingestVsCeiling: ingest / ceiling,
      endToEndDossiers,
      endToEndEvents: load.length / e2eSeconds,
      endToEndVsPortal: endToEndDossiers / capacity.dossiersPerSecond,
      pushDossiers,
      pushFirstSeconds,
      pushFromFirstDossiers,
      latency,
      drainSeconds,
      drainAtPortalSeconds: outage.length / capacity.dossiersPerSecond,
      peakRssMiB: peak,
      portalOk,
      cpu: cpuShares,
      cpuPush: cpuAfterIngest,
      cpuPortal: capacity.cpu,
      loop: { ingest: loopDuringIngest, push: loopAfterIngest },
      statements: { ingest: ingestStatements, push: pushStatements, pushed: unpushed },
      ...(profile ? { profile } : {}),
    };
    return figures;
  } finally {
    await producer.disconnect();
    for (const p of processes.reverse()) await stopProcess(p);
    if (CPU_PROF_DIR && figures) {
      const file = join(CPU_PROF_DIR, `push-${runId}-${run}.cpuprofile`);
      if (existsSync(file)) figures.pushProfile = profileSummary(file);
    }
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await dropSchemas(db, Object.values(schemas));
    await db.end();
  }
}

interface BaselineFigures {
  events: number;
  ingest?: number;
  endToEnd?: number;
  latency: Array<{ rate: number; p99?: number }>;
}

/** The stock consumer on a small workload; what it cannot finish in time is reported as such. */
async function baselineRun(stack: Stack, kafka: Kafka): Promise<BaselineFigures> {
  const prefix = `bench.${runId}.baseline`;
  const topic = `${prefix}.${TOPICS.communeDossierEvents}`;
  const statusTopic = `${prefix}.${TOPICS.syncStatus}`;
  const simSchema = `bench_${runId}_bsim`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, statusTopic].map((t) => ({ topic: t, numPartitions: PARTITIONS })),
  });
  const sim = await startPortalSim(stack, simSchema, SIMULATOR_ADMIN_TOKEN);
  const service = await startProcess(
    'baseline',
    'test/bench/dist/baseline.main.js',
    {
      KAFKA_BROKERS: stack.kafkaBrokers,
      BENCH_DOSSIER_TOPIC: topic,
      BENCH_STATUS_TOPIC: statusTopic,
      DVCQG_BASE_URL: sim.url,
    },
    { line: 'baseline ready' },
  );
  const watch = new StatusWatch(kafka, statusTopic);
  await watch.start();
  const producer = await benchProducer(kafka);
  try {
    const workload = new Workload('2025-07-01');
    const load = records(workload.take(BASELINE_EVENTS));
    log(`baseline: ${load.length} events`);
    const t0 = Date.now();
    await produceAll(producer, topic, load);
    // The baseline keeps no ledger: an event is handled when its status is out.
    const done = await waitFor(
      () => Promise.resolve(watch.count >= load.length),
      BASELINE_DEADLINE_SECONDS,
    );
    const rate = load.length / ((Date.now() - t0) / 1000);
    const figures: BaselineFigures = {
      events: load.length,
      ...(done ? { ingest: rate, endToEnd: rate } : {}),
      latency: [],
    };
    if (!done) return figures;
    for (const r of BASELINE_RATES) {
      const paced = records(workload.take(r * LATENCY_SECONDS));
      const sentAt = await producePaced(producer, topic, paced, r);
      const times = await offeredTimes(watch, paced, sentAt, BASELINE_DEADLINE_SECONDS);
      figures.latency.push({ rate: r, ...(times ? { p99: percentile(times, 99) } : {}) });
    }
    return figures;
  } finally {
    await producer.disconnect();
    await watch.stop();
    await stopProcess(service);
    await stopProcess(sim.child);
    await admin.deleteTopics({ topics: [topic, statusTopic] }).catch(() => undefined);
    await admin.disconnect();
    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    await db.query(`drop schema if exists "${simSchema}" cascade`);
    await db.end();
  }
}

function report(runs: RunFigures[], baseline: BaselineFigures | undefined, env: string): string {
  const f = fmt;
  const med = (pick: (r: RunFigures) => number) => median(runs.map(pick));
  const row = (name: string, pick: (r: RunFigures) => number, goal?: Goal, digits = 0) =>
    figureRow(name, runs.map(pick), { ...(goal ? { goal } : {}), digits });
  const lat = (rate: number, p: 'p50' | 'p95' | 'p99') => (r: RunFigures) =>
    r.latency.find((l) => l.rate === rate)?.[p] ?? NaN;
  const lines = [
    `dossier benchmark, ${runs.length} run(s) (median, then each run): ${env}`,
    '',
    '| figure | median | runs | goal (#14) | |',
    '| --- | ---: | ---: | --- | --- |',
    row('limit: raw batched upsert of the same rows, events/s', (r) => r.databaseCeiling),
    portalLimitRow(
      'dossiers',
      runs.map((r) => r.portalDossiers),
      runs.map((r) => r.portalCalls),
    ),
    row('ingest (Kafka → ledger committed), events/s', (r) => r.ingest, GOALS.ingest),
    row('ingest / database limit', (r) => r.ingestVsCeiling, GOALS.ingestVsDatabase, 2),
    row('end to end (→ every dossier SYNCED), dossiers/s', (r) => r.endToEndDossiers, undefined, 1),
    row('end to end, events/s', (r) => r.endToEndEvents),
    row('end to end / portal-sim capacity', (r) => r.endToEndVsPortal, GOALS.endToEndVsPortal, 2),
    ...(INGEST_ALONE
      ? [
          row(
            'pushes after ingest (DVCQG up again), dossiers/s',
            (r) => r.pushDossiers,
            undefined,
            1,
          ),
          row(
            'pushes after ingest / portal-sim capacity',
            (r) => r.pushDossiers / r.portalDossiers,
            undefined,
            2,
          ),
          row(
            "… of which waiting for the first outcome after DVCQG's return, s",
            (r) => r.pushFirstSeconds,
            undefined,
            1,
          ),
          row(
            '… from the first outcome to the last / portal-sim capacity',
            (r) => r.pushFromFirstDossiers / r.portalDossiers,
            undefined,
            2,
          ),
        ]
      : []),
    ...RATES.flatMap((rate) => [
      row(`event → SYNCED p50 at ${rate} events/s offered, ms`, lat(rate, 'p50')),
      row(`event → SYNCED p95 at ${rate} events/s offered, ms`, lat(rate, 'p95')),
      row(
        `event → SYNCED p99 at ${rate} events/s offered, ms`,
        lat(rate, 'p99'),
        GOALS.p99AtRate(rate),
      ),
    ]),
    row(
      `backlog drain after a ${OUTAGE_SECONDS} s DVCQG outage at ${OUTAGE_RATE} events/s, s`,
      (r) => r.drainSeconds,
      GOALS.drain(OUTAGE_SECONDS),
      1,
    ),
    row(
      "… the backlog's dossiers at portal-sim's limit (load generator), s",
      (r) => r.drainAtPortalSeconds,
      undefined,
      1,
    ),
    row('peak RSS of dossier-sync, MiB', (r) => r.peakRssMiB, GOALS.rssMiB),
    '',
    `DVCQG holds exactly what was sent: ${runs.map((r) => (r.portalOk ? 'yes' : 'NO')).join(' / ')}.`,
    '',
    "Where the CPU went (share of all cores, median): during ingest, after it until every dossier was SYNCED, while events were offered at each latency rate (until the last was SYNCED), and while the load generator measured portal-sim's limit (dossier-sync not running):",
    '',
    ...phaseCpuLines(runs, RATES, "portal-sim's limit"),
    '',
    cpuPerEventLine(runs),
    ...(INGEST_ALONE
      ? [
          '',
          cpuPerUnitLine(
            'CPU per dossier pushed after ingest, ms',
            runs.map((r) => ({ cpu: r.cpuPush, rate: r.pushDossiers })),
            1e3,
            2,
          ),
        ]
      : []),
    '',
    ...machineBoundLines(
      'dossier-sync',
      'dossiers',
      runs.map((r) => ({
        cpu: r.cpu,
        cpuPortal: r.cpuPortal,
        ingest: r.ingest,
        databaseCeiling: r.databaseCeiling,
        portalPerSecond: r.portalDossiers,
        eventsPerUnit: r.endToEndEvents / r.endToEndDossiers,
      })),
      INGEST_ALONE,
    ),
    '',
    `dossier-sync's event loop was busy (\`lienthong_event_loop_busy_seconds_total\`, each run) ${loopShares(runs.map((r) => r.loop.ingest))} of the time during ingest and ${loopShares(runs.map((r) => r.loop.push))} after it: near 100 %, the service's one thread sets the pace.`,
  ];
  const first = runs[0];
  for (const phase of ['ingest', 'push'] as const)
    lines.push(
      ...statementLines(
        `during ${phase === 'ingest' ? 'ingest' : 'the pushes after ingest'}`,
        first?.statements[phase] ?? [],
        phase === 'push'
          ? { unit: 'dossier pushed', count: first?.statements.pushed ?? 0 }
          : undefined,
      ),
    );
  lines.push(
    ...profileLines('dossier-sync', [
      ['ingest', runs[0]?.profile],
      ['what followed ingest (pushes)', runs[0]?.pushProfile],
    ]),
  );
  if (baseline) {
    const lt = (v: number | undefined) =>
      v === undefined ? `not finished in ${BASELINE_DEADLINE_SECONDS} s` : f(v);
    const ratio = (a: number, b: number | undefined) =>
      b === undefined ? '—' : `${(a / b).toFixed(1)}×`;
    lines.push(
      '',
      `Baseline (stock NestJS @EventPattern consumer, DVCQG called per message) on ${f(baseline.events)} events:`,
      '',
      '| figure | baseline | Lienthong (median above) | ratio |',
      '| --- | ---: | ---: | ---: |',
      `| ingest, events/s | ${lt(baseline.ingest)} | ${f(med((r) => r.ingest))} | ${ratio(
        med((r) => r.ingest),
        baseline.ingest,
      )} |`,
      `| end to end, events/s | ${lt(baseline.endToEnd)} | ${f(med((r) => r.endToEndEvents))} | ${ratio(
        med((r) => r.endToEndEvents),
        baseline.endToEnd,
      )} |`,
      ...baseline.latency.map(
        (l) => `| event → SYNCED p99 at ${l.rate} events/s offered, ms | ${lt(l.p99)} | — | — |`,
      ),
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  log('local stack');
  const stack = stackUp();
  log('build (portal-sim, dossier-sync, baseline)');
  build(['portal-sim', 'dossier-sync', 'bench']);
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: stack.kafkaBrokers.split(','),
    sasl: kafkaPrincipalSasl('test'),
    logLevel: logLevel.NOTHING,
  });
  const pgVersion = await postgresVersion(stack.databaseUrl);
  const runs: RunFigures[] = [];
  for (let run = 1; run <= RUNS; run += 1) runs.push(await lienthongRun(stack, kafka, run));
  const baseline = BASELINE ? await baselineRun(stack, kafka) : undefined;
  const command = commandLine('bench:dossier', {
    BENCH_EVENTS: EVENTS,
    BENCH_RATES: RATES.join(','),
    BENCH_LATENCY_SECONDS: LATENCY_SECONDS,
    BENCH_OUTAGE_SECONDS: OUTAGE_SECONDS,
    BENCH_OUTAGE_RATE: OUTAGE_RATE,
    BENCH_RUNS: RUNS,
    BENCH_PORTAL_CONCURRENCY: PORTAL_CONCURRENCY,
    BENCH_PORTAL_SECONDS: PORTAL_SECONDS,
    BENCH_BASELINE: BASELINE ? 'on' : 'off',
  });
  const text = [
    report(
      runs,
      baseline,
      `${new Date().toISOString().slice(0, 10)}, ${versions(pgVersion)}; ${PARTITIONS} partitions; dossier-sync runs as deploy/service-runtime.json says (${runtimeLine('services/dossier-sync/dist/main.js')})${INSTANCES > 1 ? `, ${INSTANCES} instances in one consumer group` : ''}${INGEST_ALONE ? '; DVCQG down while ingest is measured (BENCH_INGEST_ALONE=1)' : ''}`,
    ),
    '',
    `Command: \`${command}\`; the run took ${fmt((Date.now() - started) / 1000)} s.`,
  ].join('\n');
  process.stdout.write(`${text}\n`);
  if (process.env.BENCH_WRITE_RESULTS === '1') writeResults('dossier', text);
  if (runs.some((r) => !r.portalOk)) process.exitCode = 1;
}

runMain(main);
