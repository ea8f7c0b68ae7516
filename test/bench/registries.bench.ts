// `npm run bench:registries` — a benchmark, not a test. Civil-status and land events through
// Lienthong (civil-status-sync, land-sync: the same kit as dossier-sync, two-phase targets), each
// figure next to the limit it is bounded by, measured in the same run on the same machine. Per
// registry (BENCH_REGISTRIES=civil-status,land), per run:
//
//   ceilings  1. the database: a raw batched upsert of the same rows (dedupe insert, latest
//                registration per entity, new parts) into the same PostgreSQL, no Kafka;
//             2. the registry: a plain load generator sending portal-sim what a new registration
//                needs — civil status: NhanDKHT, CaiChinhDKHT per amendment and, as Lienthong
//                asks for answers, a LayKetQua per RESULTS_PER_CALL registrations of one province
//                and kind; land: TiepNhan —
//                with one token, BENCH_PORTAL_CONCURRENCY keep-alive callers;
//   Lienthong 3. ingest: BENCH_EVENTS events already on the topic, the service started; the
//                sustained rate into the ledger (committed) and where the CPU went meanwhile;
//             4. end to end: until the registry has accepted every registration (the entity
//                AWAITING_RESULT or further), in registrations/s against (2); then until the
//                registry's answer is in the ledger for every one (SYNCED, or FAILED if it
//                refused): that part waits for the simulated registry's decision and for the
//                poll (civil status) or the callbacks (land), so it is reported, not compared;
//             5. latency event → accepted by the registry (AWAITING_RESULT on sync.status.v2) at
//                each of BENCH_RATES offered, BENCH_LATENCY_SECONDS each;
//             6. backlog drain: the registry down for BENCH_OUTAGE_SECONDS while
//                BENCH_OUTAGE_RATE events/s arrive; from its recovery until it has accepted all;
//             7. peak RSS of the service, and the registry holds exactly what was sent.
//
// Two-phase targets have no "SYNCED at the portal" the moment a write lands: the registry
// accepts, then decides later. #14's end-to-end and latency goals are read at its acceptance.
// BENCH_INGEST_ALONE=1 keeps the registry down while ingest is measured (3): the service ingests
// without pushing meanwhile, so ingest's CPU is ingest's alone (and the report adds what two cores
// allow); once ingest is in, the registry comes back and every registration is pushed on its own
// (the rate, ÷ the registry's limit, and each process's CPU per registration pushed).
// BENCH_CPU_PROF=<dir> profiles the service (node --cpu-prof): ingest, then (restarted) what follows
// it; the report adds each profile's self time by where the code lives. The restart resets the
// process's peak RSS, so a profiled run's RSS figure covers only what follows ingest.
// BENCH_DATABASE_SOCKET=<dir> (e.g. /var/run/postgresql) connects everything to PostgreSQL over its
// Unix socket instead of TCP, where the server runs on this host (the header says which).
// BENCH_COUNT_STATEMENTS=1 has every process the bench starts count its node-postgres statements
// and the time it waited for their answers (test/bench/statement-counter.cjs), and the report's
// statement tables show those counts, per process, where pg_stat_statements is not loaded.
// BENCH_WRITE_RESULTS=1 puts the printed results into test/bench/RESULTS.md (between its markers).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { dvcqgUnitCode } from '@lienthong/admin-units';
import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import type {
  BirthRegistered,
  LandRegistrationReceived,
  RegistrationAmended,
} from '@lienthong/contracts';
import { RESULTS_PER_CALL, toAmendment, toSubmission, toTiepNhan } from '@lienthong/portal-clients';
import type { CivilModule, CivilRegistration } from '@lienthong/portal-clients';
import { FIXTURE_COMMUNES, Rng, civilStatusLife, landLife, toRecord } from '@lienthong/simulation';
import type { RegistryEvent, RegistryLife } from '@lienthong/simulation';
import { SIMULATOR_ADMIN_TOKEN, kafkaPrincipalSasl } from '@lienthong/testing';
import {
  benchProducer,
  GOALS,
  closedLoop,
  loadClient,
  cpuPerEventLine,
  cpuPerUnitLine,
  cpuProfArgs,
  phaseCpuLines,
  machineBoundLines,
  profileLines,
  profileSummary,
  limitCpuAccount,
  commandLine,
  figureRow,
  portalLimitRow,
  syncCpuAccount,
  syncServiceEnv,
  knob,
  committedRecords,
  measureIngest,
  setPortalFaults,
  reachedTimes,
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
  offeredTimes,
  peakRssMiB,
  percentile,
  postgresVersion,
  slowHalfSeconds,
  latencyStages,
  produceAll,
  producePaced,
  runMain,
  runtimeLine,
  sha256,
  sqlCount,
  stackUp,
  startPortalSim,
  startProcess,
  stopProcess,
  syncBenchKnobs,
  versions,
  waitFor,
  writeResults,
} from './bench-kit';
import type {
  CeilingRow,
  CpuAccount,
  Goal,
  LoadClient,
  Paced,
  Stack,
  StatementFigure,
} from './bench-kit';

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
} = syncBenchKnobs(30_000);
/** How long a latency phase waits for every registration offered to be accepted. */
const LATENCY_WAIT_SECONDS = knob('BENCH_LATENCY_WAIT_SECONDS', 180);
const INGEST_ALONE = process.env.BENCH_INGEST_ALONE === '1';
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
const REGISTRIES = (process.env.BENCH_REGISTRIES ?? 'civil-status,land').split(',').filter(Boolean);
const PARTITIONS = 12;
/** The simulated registries decide at once (no supplements, no silence): step 4's second figure measures Lienthong, not a wait. */
const SIM_ENV = {
  PORTAL_SIM_CIVIL_RESULT_DELAY_MS: '0',
  PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO: '0',
  PORTAL_SIM_CIVIL_NO_RESULT_RATIO: '0',
  PORTAL_SIM_LAND_STEP_MS: '100',
  PORTAL_SIM_LAND_SUPPLEMENT_RATIO: '0',
};
const CALLBACK_SECRET = 'bench-land-callback-secret-0001';
const runId = Date.now().toString(36);

/** What a registry's bench needs to know about it. */
interface Registry {
  name: 'civil-status' | 'land';
  service: string;
  entry: string;
  contractTopic: string;
  target: string;
  /** A life of this registry's entities (a registration and what follows it). */
  life: (rng: Rng, at: number) => RegistryLife;
  /** Whether an event of this type is a part of its entity (the others are the registration itself). */
  isPart: (type: string) => boolean;
  /** The ledger's entity type of a life. */
  entityType: (life: RegistryLife) => string;
  /**
   * The number the registry knows a registration by, when the commune chooses it (land: the
   * one-stop desk's SoBienNhan). The generator draws it at random, so lives are kept only while it
   * is unique, as a real receipt book's numbers are.
   */
  reference?: (life: RegistryLife) => string;
  /** The ledger's key of a part (as the service's mapping makes it); `fp` is its payload's hash. */
  partKey: (event: RegistryEvent, fp: string) => string;
  /** The service's environment for a portal-sim at `simUrl`, listening on `port`. */
  serviceEnv: (simUrl: string) => Record<string, string>;
  /** portal-sim's environment when the service listens on `servicePort`. */
  simEnv: (servicePort: number) => Record<string, string>;
  /** A plain load generator's sender: one token, then the calls one life needs; returns their number. */
  sender: (client: LoadClient) => Promise<(life: RegistryLife) => Promise<number>>;
  /** The registrations and parts the registry holds (in portal-sim's schema). */
  held: (db: Client, schema: string) => Promise<{ registrations: number; parts: number }>;
  /** The parts the registry must hold of these lives. */
  expectedParts: (lives: RegistryLife[]) => number;
}

const MODULES: Record<string, CivilModule> = {
  [EVENT_TYPES.BirthRegistered]: 'LTKS',
  [EVENT_TYPES.DeathRegistered]: 'LTKT',
  [EVENT_TYPES.MarriageRegistered]: 'LTKH',
};
const CIVIL_ENTITY: Record<string, string> = { LTKS: 'birth', LTKT: 'death', LTKH: 'marriage' };

const civilStatus: Registry = {
  name: 'civil-status',
  service: 'civil-status-sync',
  entry: 'services/civil-status-sync/dist/main.js',
  contractTopic: TOPICS.communeCivilStatusEvents,
  target: 'civil-status-registry',
  life: (rng, at) => civilStatusLife(rng, { communes: FIXTURE_COMMUNES, at, mistake: false }),
  isPart: (type) => type === EVENT_TYPES.RegistrationAmended,
  entityType: (life) =>
    CIVIL_ENTITY[MODULES[(life.events[0] as RegistryEvent).type] as string] as string,
  partKey: (_event, fp) => `CC-${fp.slice(0, 24)}`,
  serviceEnv: (simUrl) => ({ CIVIL_BASE_URL: simUrl }),
  simEnv: () => ({}),
  sender: async (client) => {
    const token = await client.post('/hotich/token', {
      client_id: 'lienthong',
      client_secret: 'lienthong-hotich',
    });
    const auth = { authorization: `Bearer ${String(token.body.access_token)}` };
    const call = async (operation: string, body: Record<string, unknown>) => {
      const answer = await client.post(`/hotich/${operation}`, body, auth);
      if (answer.status !== 200 || String(answer.body.status) !== '1')
        throw new Error(
          `registry load: ${operation} ${answer.status} ${JSON.stringify(answer.body)}`,
        );
    };
    // Lienthong asks for the registry's answers with LayKetQua, per province and kind, up to
    // RESULTS_PER_CALL registrations a call; the load generator too, each call full: the same
    // requests, at the fewest calls.
    const unanswered = new Map<string, string[]>();
    return async (life) => {
      const [first, ...rest] = life.events;
      const registration = (first as RegistryEvent).data as BirthRegistered;
      const module = MODULES[(first as RegistryEvent).type] as CivilModule;
      const unit = dvcqgUnitCode({ code: registration.maXa, provinceCode: registration.maTinh });
      await call('NhanDKHT', toSubmission({ module, registration } as CivilRegistration, unit));
      const group = `${module}:${registration.maTinh}`;
      const ids = [...(unanswered.get(group) ?? []), registration.maDinhDanhHoSo];
      unanswered.set(group, ids.length < RESULTS_PER_CALL ? ids : []);
      for (const e of rest)
        await call(
          'CaiChinhDKHT',
          toAmendment(
            e.data as RegistrationAmended,
            module,
            unit,
            civilStatus.partKey(e, sha256(JSON.stringify(e.data))),
          ),
        );
      if (ids.length < RESULTS_PER_CALL) return life.events.length;
      await call('LayKetQua', {
        maDinhDanhHoSo: ids,
        maTinh: registration.maTinh,
        module,
      });
      return life.events.length + 1;
    };
  },
  held: async (db, schema) => ({
    registrations: await sqlCount(db, `select count(*) n from "${schema}".civil_registration`),
    parts: await sqlCount(db, `select count(*) n from "${schema}".civil_amendment`),
  }),
  expectedParts: (lives) =>
    lives.reduce(
      (n, l) => n + l.events.filter((e) => e.type === EVENT_TYPES.RegistrationAmended).length,
      0,
    ),
};

const land: Registry = {
  name: 'land',
  service: 'land-sync',
  entry: 'services/land-sync/dist/main.js',
  contractTopic: TOPICS.communeLandEvents,
  target: 'land-registry',
  life: (rng, at) => landLife(rng, { communes: FIXTURE_COMMUNES, at, mistake: false }),
  isPart: (type) => type !== EVENT_TYPES.LandRegistrationReceived,
  entityType: () => 'land-registration',
  reference: (life) =>
    ((life.events[0] as RegistryEvent).data as { SoBienNhan: string }).SoBienNhan,
  partKey: (event) => `status:${event.sequence}`,
  serviceEnv: (simUrl) => ({ LAND_BASE_URL: simUrl, LAND_CALLBACK_SECRET: CALLBACK_SECRET }),
  simEnv: (servicePort) => ({
    PORTAL_SIM_LAND_CALLBACK_URL: `http://127.0.0.1:${servicePort}/land/callbacks`,
  }),
  sender: async (client) => {
    const token = await client.post(
      '/land/connect/token',
      new URLSearchParams({
        grant_type: 'password',
        username: 'lienthong',
        password: 'lienthong-land',
      }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' },
    );
    const auth = { authorization: `Bearer ${String(token.body.access_token)}` };
    return async (life) => {
      const dossier = (life.events[0] as RegistryEvent).data as LandRegistrationReceived;
      const answer = await client.post(
        '/land/api/HoSo/TiepNhan',
        toTiepNhan(dossier, 'bench'),
        auth,
      );
      if (answer.status !== 200 || Number(answer.body.data) !== 1)
        throw new Error(`registry load: TiepNhan ${answer.status} ${JSON.stringify(answer.body)}`);
      // The commune's own status records are kept in the ledger, not sent: one call per life.
      return 1;
    };
  },
  held: async (db, schema) => ({
    registrations: await sqlCount(db, `select count(*) n from "${schema}".land_dossier`),
    parts: 0,
  }),
  expectedParts: () => 0,
};

/** The ledger row of one of a registry's events, for the database's ceiling. */
function ledgerRow(registry: Registry, life: RegistryLife, event: RegistryEvent): CeilingRow {
  const json = JSON.stringify(event.data);
  const fp = sha256(json);
  const part = registry.isPart(event.type);
  return {
    source: `/communes/${life.communeCode}/mot-cua`,
    id: `${life.key}:${event.sequence}`,
    entityType: registry.entityType(life),
    key: life.key,
    commune: life.communeCode,
    target: registry.target,
    sequence: event.sequence,
    kind: part ? 'part' : 'snapshot',
    part: part ? registry.partKey(event, fp) : '',
    json,
    fp,
  };
}

/** Lives with keys unique within a workload (the generators draw ids at random). */
class Workload {
  private n = 0;
  private readonly keys = new Set<string>();
  private readonly references = new Set<string>();

  constructor(
    private readonly registry: Registry,
    private readonly seed: number,
  ) {}

  next(): RegistryLife {
    for (;;) {
      const n = this.n++;
      const life = this.registry.life(new Rng(this.seed + n), Date.parse('2025-08-01') + n * 1000);
      const reference = this.registry.reference?.(life);
      if (this.keys.has(life.key) || (reference && this.references.has(reference))) continue;
      this.keys.add(life.key);
      if (reference) this.references.add(reference);
      return life;
    }
  }

  take(events: number): RegistryLife[] {
    const lives: RegistryLife[] = [];
    for (let total = 0; total < events;) {
      const life = this.next();
      lives.push(life);
      total += life.events.length;
    }
    return lives;
  }
}

/** Every event of the lives as the commune system sends it; `snapshot`: a registration (latency is read on those). */
function records(registry: Registry, lives: RegistryLife[]): Array<Paced & { snapshot: boolean }> {
  return lives.flatMap((life) =>
    life.events.map((e) => ({
      key: life.key,
      sequence: e.sequence,
      snapshot: !registry.isPart(e.type),
      record: toRecord(
        {
          name: '',
          type: e.type,
          topic: registry.contractTopic,
          data: e.data,
          communeCode: life.communeCode,
          sequence: e.sequence,
        },
        { id: `${life.key}:${e.sequence}` },
      ),
    })),
  );
}

/** An HTTP server on loopback answering every request as land-sync answers a callback it took. */
async function callbackSink(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"Result":true}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}

const eventCount = (lives: RegistryLife[]) => lives.reduce((s, l) => s + l.events.length, 0);

/** The registry's capacity for new registrations from a plain load generator. Registrations and calls per second. */
async function registryCapacity(
  registry: Registry,
  baseUrl: string,
  workload: Workload,
  account: CpuAccount,
) {
  const client = loadClient(baseUrl, PORTAL_CONCURRENCY);
  try {
    const send = await registry.sender(client);
    return await closedLoop(
      PORTAL_CONCURRENCY,
      PORTAL_SECONDS,
      () => send(workload.next()),
      account,
    );
  } finally {
    await client.close();
  }
}

interface RunFigures {
  databaseCeiling: number;
  portal: number;
  portalCalls: number;
  ingest: number;
  ingestVsCeiling: number;
  /** Events per registration in the ingested workload. */
  eventsPerRegistration: number;
  accepted: number;
  /** With BENCH_INGEST_ALONE=1: registrations accepted per second once the registry is back after ingest. */
  pushRegistrations: number;
  acceptedVsPortal: number;
  answeredSeconds: number;
  /** Per offered rate: the percentiles, and each process's share of all cores while offered. */
  latency: Array<{
    rate: number;
    p50: number;
    p95: number;
    p99: number;
    cpu: Record<string, number>;
  }>;
  drainSeconds: number;
  /** The outage's backlog in registrations ÷ the registry's limit: how long the registry itself takes for it. */
  drainAtPortalSeconds: number;
  peakRssMiB: number;
  portalOk: boolean;
  /** Share of all cores per process during ingest, and from its end until every registration was accepted. */
  cpu: Record<string, number>;
  cpuPush: Record<string, number>;
  /** Share of all cores per process while the load generator measured the registry's limit. */
  cpuPortal: Record<string, number>;
  /** With BENCH_CPU_PROF: the service's self time by where the code lives, during ingest and after it. */
  profile?: Array<[string, number]>;
  pushProfile?: Array<[string, number]>;
  /**
   * pg_stat_statements' top statements (every schema: the service's and portal-sim's) during
   * ingest and the pushes after it, and how many registrations those pushed; empty when the
   * server does not load it.
   */
  statements: { ingest: StatementFigure[]; push: StatementFigure[]; pushed: number };
}

async function registryRun(
  registry: Registry,
  stack: Stack,
  kafka: Kafka,
  run: number,
): Promise<RunFigures> {
  const prefix = `bench.${runId}.${registry.name}.${run}`;
  const topic = `${prefix}.${registry.contractTopic}`;
  const statusTopic = `${prefix}.${TOPICS.syncStatus}`;
  const statusV2Topic = `${prefix}.${TOPICS.syncStatusV2}`;
  const topics = [topic, `${topic}.dlq.v1`, statusTopic, statusV2Topic];
  const tag = `bench_${runId}_${registry.name.replace('-', '_')}`;
  const schemas = {
    sim: `${tag}_sim`,
    capacitySim: `${tag}_cap`,
    ceiling: `${tag}_ceil`,
    ledger: `${tag}_ls`,
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
  const processes: ChildProcess[] = [];
  const servicePort = await freePort();
  const portalSim = async (schema: string, callbackPort = servicePort) => {
    const sim = await startPortalSim(stack, schema, SIMULATOR_ADMIN_TOKEN, {
      ...SIM_ENV,
      ...registry.simEnv(callbackPort),
    });
    processes.push(sim.child);
    return sim;
  };
  const startService = async (
    schema: string,
    simUrl: string,
    port: number,
    nodeArgs: string[] = [],
  ) => {
    const child = await startProcess(
      registry.service,
      registry.entry,
      {
        ...syncServiceEnv({
          databaseUrl: stack.databaseUrl,
          schema,
          port,
          topic,
          statusTopic,
          statusV2Topic,
        }),
        ...registry.serviceEnv(simUrl),
      },
      { url: `http://127.0.0.1:${port}/health/ready` },
      nodeArgs,
    );
    processes.push(child);
    return child;
  };
  let figures: RunFigures | undefined;
  try {
    const workload = new Workload(registry, 1);
    const lives = workload.take(EVENTS);
    const load = records(registry, lives);

    // 1. The database's ceiling, in a ledger schema the service's migrations made.
    const sim = await portalSim(schemas.sim);
    await stopProcess(await startService(schemas.ceiling, sim.url, await freePort()));
    const ceiling = await databaseCeiling(
      stack.databaseUrl,
      schemas.ceiling,
      lives.flatMap((l) => l.events.map((e) => ledgerRow(registry, l, e))),
      { connections: PARTITIONS_CONSUMED_CONCURRENTLY, batch: CEILING_BATCH },
    );
    log(`${registry.name} run ${run}: database ceiling ${fmt(ceiling)} events/s`);

    // 2. The registry's capacity, on a portal-sim of its own. Its callbacks (land) go to a sink
    // that takes each at once, as the service would: unanswered, they would be retried, a load
    // on the limit that Lienthong's runs do not have.
    const sink = await callbackSink();
    const capacitySim = await portalSim(schemas.capacitySim, sink.port);
    const capacity = await registryCapacity(
      registry,
      capacitySim.url,
      new Workload(registry, 1_000_000_000),
      limitCpuAccount(registry.service, capacitySim.child.pid),
    );
    await stopProcess(capacitySim.child);
    await sink.close();
    log(
      `${registry.name} run ${run}: registry capacity ${fmt(capacity.perSecond)} registrations/s`,
    );

    // 3. Ingest: everything on the topic first, then the service starts (with the registry down
    // meanwhile if BENCH_INGEST_ALONE=1).
    await produceAll(producer, topic, load);
    const faults = (profile: object) =>
      setPortalFaults(sim.url, registry.name, SIMULATOR_ADMIN_TOKEN, profile);
    const profiling = (phase: string) => cpuProfArgs(CPU_PROF_DIR, `${phase}-${prefix}`);
    if (INGEST_ALONE) await faults({ down: true });
    let service = await startService(schemas.ledger, sim.url, servicePort, profiling('ingest'));
    const watch = new StatusWatch(
      kafka,
      statusV2Topic,
      new Set(['AWAITING_RESULT', 'SYNCED', 'FAILED']),
      PARTITIONS,
    );
    await watch.start();
    const cpu = syncCpuAccount(
      registry.service,
      () => [service.pid],
      () => sim.child.pid,
    );
    const ingested = () => committedRecords(db, schemas.ledger, topic);
    const { rate: ingest, first: firstAt } = await measureIngest(
      ingested,
      load.length,
      Math.max(300, EVENTS / 200),
      () => {
        cpu.start();
        void statements.reset();
      },
    );
    const cpuShares = cpu.stop();
    const ingestStatements = await statements.top(10);
    log(
      `${registry.name} run ${run}: ingest ${fmt(ingest)} events/s${INGEST_ALONE ? ' (registry down meanwhile)' : ''}`,
    );
    // What is left to push once ingest is in (with the registry down meanwhile: every registration).
    const unaccepted = await sqlCount(
      db,
      `select count(*) n from "${schemas.ledger}".sync_entity where target = '${registry.target}' and state in ('PENDING', 'RETRYING')`,
    );
    let profile: Array<[string, number]> | undefined;
    if (CPU_PROF_DIR) {
      // Restarted before what follows is sampled (a sample across the restart would subtract the
      // old process's CPU from the new one's), and before the registry returns (the old process
      // would otherwise push while it stops, unmeasured).
      const stopping = Date.now();
      await stopProcess(service);
      const file = join(CPU_PROF_DIR, `ingest-${prefix}.cpuprofile`);
      // Node writes the profile only when the process exits by itself (not when killed).
      if (existsSync(file)) profile = profileSummary(file);
      else
        log(
          `${registry.name} run ${run}: no ingest profile: ${registry.service} did not exit by itself (${fmt((Date.now() - stopping) / 1000, 1)} s)`,
        );
      service = await startService(schemas.ledger, sim.url, servicePort, profiling('push'));
    }
    if (INGEST_ALONE) await faults({});
    const pushStartedAt = Date.now();
    cpu.start();
    await statements.reset();

    // 4. End to end: every registration accepted by the registry, then every one answered.
    const noneIn = (states: string) => async () =>
      (
        await db.query<{ done: boolean }>(
          `select not exists (select 1 from "${schemas.ledger}".sync_entity where target = $1 and state in (${states})) done`,
          [registry.target],
        )
      ).rows[0]?.done === true;
    const allAccepted = noneIn(`'PENDING', 'RETRYING'`);
    const allAnswered = noneIn(`'PENDING', 'RETRYING', 'AWAITING_RESULT', 'SUPPLEMENT_REQUESTED'`);
    if (!(await waitFor(allAccepted, Math.max(600, EVENTS / 50), 250)))
      throw new Error(
        `${registry.name} run ${run}: the registry did not accept every registration`,
      );
    /**
     * Until every accepted registration has its answer. A phase starts only then: answers still to
     * be polled (civil status asks with LayKetQua) would otherwise share the gateway's slots and
     * the CPU with the next phase's pushes, and phases would add up.
     */
    const waitAnswered = async (after: string) => {
      if (await waitFor(allAnswered, 600, 250)) return;
      // What the ledger says about the ones still waiting, so a failed run shows where they stand.
      const waiting = await db.query<{
        state: string;
        n: string;
        polls: string;
        next_poll: string;
      }>(
        `select state, count(*) n, max(polls) polls,
           coalesce(to_char(min(next_poll_at) - now(), 'HH24:MI:SS'), 'none') next_poll
         from "${schemas.ledger}".sync_entity where target = $1 and state <> 'SYNCED' and state <> 'REJECTED'
         group by state`,
        [registry.target],
      );
      throw new Error(
        `${registry.name} run ${run}: the registry's answers ${after} did not all arrive within 600 s; still waiting: ${waiting.rows
          .map((r) => `${r.n} ${r.state} (polls up to ${r.polls}, next poll in ${r.next_poll})`)
          .join(', ')}`,
      );
    };
    const acceptedSeconds = (Date.now() - firstAt) / 1000;
    const pushRegistrations = unaccepted / ((Date.now() - pushStartedAt) / 1000);
    const cpuPush = cpu.stop();
    const pushStatements = await statements.top(10);
    await waitAnswered('to the first load');
    const answeredSeconds = (Date.now() - firstAt) / 1000;
    log(
      `${registry.name} run ${run}: all accepted after ${fmt(acceptedSeconds, 1)} s, answered after ${fmt(answeredSeconds, 1)} s`,
    );

    // 5. Latency at fixed offered rates, read on the registrations.
    const latency: RunFigures['latency'] = [];
    const more: RegistryLife[] = [];
    for (const rate of RATES) {
      const phase = workload.take(rate * LATENCY_SECONDS);
      more.push(...phase);
      const paced = records(registry, phase);
      cpu.start();
      const sentAt = await producePaced(producer, topic, paced, rate);
      const registrations = paced.flatMap((p, i) => (p.snapshot ? [i] : []));
      const offered = registrations.map((i) => paced[i] as Paced);
      const offeredAt = registrations.map((i) => sentAt[i] as number);
      // Past the wait, what is not accepted yet counts as Infinity (reported as more than the
      // wait); the queue then empties, answers included, before the next phase.
      const times =
        (await offeredTimes(watch, offered, offeredAt, LATENCY_WAIT_SECONDS)) ??
        reachedTimes(watch, offered, offeredAt);
      if (!(await waitFor(allAccepted, 900, 250)))
        throw new Error(
          `${registry.name} run ${run}: events offered at ${rate}/s were not accepted within 900 s`,
        );
      const offeredCpu = cpu.stop();
      await waitAnswered(`to the events offered at ${rate}/s`);
      latency.push({
        rate,
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        p99: percentile(times, 99),
        cpu: offeredCpu,
      });
      const p99 = percentile(times, 99);
      log(
        `${registry.name} run ${run}: p99 at ${rate} events/s ${p99 === Infinity ? `over ${LATENCY_WAIT_SECONDS} s` : `${fmt(p99)} ms`}; ` +
          slowHalfSeconds(watch, offered, offeredAt, rate),
      );
      log(
        `${registry.name} run ${run}: at ${rate} events/s, ${latencyStages(watch, offered, offeredAt, rate, 'registry acceptance')}`,
      );
    }

    // 6. Backlog drain after a registry outage.
    const outage = workload.take(OUTAGE_RATE * OUTAGE_SECONDS);
    more.push(...outage);
    log(
      `${registry.name} run ${run}: registry down for ${OUTAGE_SECONDS} s at ${OUTAGE_RATE} events/s offered`,
    );
    await faults({ down: true });
    await producePaced(producer, topic, records(registry, outage), OUTAGE_RATE);
    const offered = load.length + eventCount(more);
    await waitFor(async () => (await ingested()) >= offered, 120);
    await faults({});
    const recovered = Date.now();
    if (!(await waitFor(allAccepted, 900, 250)))
      throw new Error(`${registry.name} run ${run}: the backlog did not drain within 900 s`);
    const drainSeconds = (Date.now() - recovered) / 1000;
    log(`${registry.name} run ${run}: backlog drained in ${fmt(drainSeconds, 1)} s`);

    // 7. Memory, and what the registry holds.
    const peak = peakRssMiB(service);
    const all = [...lives, ...more];
    const held = await registry.held(db, schemas.sim);
    const portalOk =
      held.registrations === all.length && held.parts === registry.expectedParts(all);
    if (!portalOk)
      log(
        `${registry.name} run ${run}: the registry holds ${held.registrations} registrations / ${held.parts} parts, expected ${all.length} / ${registry.expectedParts(all)}`,
      );
    await watch.stop();
    const accepted = lives.length / acceptedSeconds;
    figures = {
      databaseCeiling: ceiling,
      portal: capacity.perSecond,
      portalCalls: capacity.callsPerSecond,
      ingest,
      ingestVsCeiling: ingest / ceiling,
      eventsPerRegistration: load.length / lives.length,
      accepted,
      pushRegistrations,
      acceptedVsPortal: accepted / capacity.perSecond,
      answeredSeconds,
      latency,
      drainSeconds,
      drainAtPortalSeconds: outage.length / capacity.perSecond,
      peakRssMiB: peak,
      portalOk,
      cpu: cpuShares,
      cpuPush,
      cpuPortal: capacity.cpu,
      statements: { ingest: ingestStatements, push: pushStatements, pushed: unaccepted },
      ...(profile ? { profile } : {}),
    };
    return figures;
  } finally {
    await producer.disconnect();
    for (const p of processes.reverse()) await stopProcess(p);
    const pushProfile = join(CPU_PROF_DIR ?? '', `push-${prefix}.cpuprofile`);
    if (CPU_PROF_DIR && figures && existsSync(pushProfile))
      figures.pushProfile = profileSummary(pushProfile);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await dropSchemas(db, Object.values(schemas));
    await db.end();
  }
}

function report(registry: Registry, runs: RunFigures[], events: number): string[] {
  const row = (name: string, pick: (r: RunFigures) => number, goal?: Goal, digits = 0) =>
    figureRow(name, runs.map(pick), {
      ...(goal ? { goal } : {}),
      digits,
      // A latency phase's registration not accepted within its wait.
      unreached: `> ${fmt(LATENCY_WAIT_SECONDS * 1000)}`,
    });
  const lat = (rate: number, p: 'p50' | 'p95' | 'p99') => (r: RunFigures) =>
    r.latency.find((l) => l.rate === rate)?.[p] ?? NaN;
  return [
    `### ${registry.service} (${fmt(events)} events)`,
    '',
    '| figure | median | runs | goal (#14) | |',
    '| --- | ---: | ---: | --- | --- |',
    row('limit: raw batched upsert of the same rows, events/s', (r) => r.databaseCeiling),
    portalLimitRow(
      'registrations',
      runs.map((r) => r.portal),
      runs.map((r) => r.portalCalls),
    ),
    row('ingest (Kafka → ledger committed), events/s', (r) => r.ingest, GOALS.ingest),
    row('ingest / database limit', (r) => r.ingestVsCeiling, GOALS.ingestVsDatabase, 2),
    row(
      'end to end (→ every registration accepted by the registry), registrations/s',
      (r) => r.accepted,
      undefined,
      1,
    ),
    row('end to end / portal-sim capacity', (r) => r.acceptedVsPortal, GOALS.endToEndVsPortal, 2),
    ...(INGEST_ALONE
      ? [
          row(
            'pushes after ingest (registry up again), registrations/s',
            (r) => r.pushRegistrations,
            undefined,
            1,
          ),
          row(
            'pushes after ingest / portal-sim capacity',
            (r) => r.pushRegistrations / r.portal,
            undefined,
            2,
          ),
        ]
      : []),
    row(
      "until the registry's answer is in the ledger for every one, s",
      (r) => r.answeredSeconds,
      undefined,
      1,
    ),
    ...RATES.flatMap((rate) => [
      row(`event → accepted p50 at ${rate} events/s offered, ms`, lat(rate, 'p50')),
      row(`event → accepted p95 at ${rate} events/s offered, ms`, lat(rate, 'p95')),
      row(
        `event → accepted p99 at ${rate} events/s offered, ms`,
        lat(rate, 'p99'),
        GOALS.p99AtRate(rate),
      ),
    ]),
    row(
      `backlog drain after a ${OUTAGE_SECONDS} s registry outage at ${OUTAGE_RATE} events/s, s`,
      (r) => r.drainSeconds,
      GOALS.drain(OUTAGE_SECONDS),
      1,
    ),
    row(
      "… the backlog's registrations at the registry's limit (load generator), s",
      (r) => r.drainAtPortalSeconds,
      undefined,
      1,
    ),
    row(`peak RSS of ${registry.service}, MiB`, (r) => r.peakRssMiB, GOALS.rssMiB),
    '',
    `The registry holds exactly what was sent: ${runs.map((r) => (r.portalOk ? 'yes' : 'NO')).join(' / ')}.`,
    '',
    "Where the CPU went (share of all cores, median): during ingest, after it until the registry had accepted every registration, while events were offered at each latency rate (until the registry had accepted the last registration), and while the load generator measured the registry's limit (the service not running):",
    '',
    ...phaseCpuLines(runs, RATES, "registry's limit"),
    '',
    cpuPerEventLine(runs),
    ...(INGEST_ALONE
      ? [
          '',
          cpuPerUnitLine(
            'CPU per registration pushed after ingest, ms',
            runs.map((r) => ({ cpu: r.cpuPush, rate: r.pushRegistrations })),
            1e3,
            2,
          ),
        ]
      : []),
    '',
    ...machineBoundLines(
      registry.service,
      'registrations',
      runs.map((r) => ({
        cpu: r.cpu,
        cpuPortal: r.cpuPortal,
        ingest: r.ingest,
        databaseCeiling: r.databaseCeiling,
        portalPerSecond: r.portal,
        eventsPerUnit: r.eventsPerRegistration,
      })),
      INGEST_ALONE,
    ),
    ...statementLines('during ingest', runs[0]?.statements.ingest ?? []),
    ...statementLines(
      "during the pushes after ingest, the service's and portal-sim's",
      runs[0]?.statements.push ?? [],
      { unit: 'registration pushed', count: runs[0]?.statements.pushed ?? 0 },
    ),
    ...profileLines(registry.service, [
      ['ingest', runs[0]?.profile],
      ['what followed ingest (pushes, polls, callbacks)', runs[0]?.pushProfile],
    ]),
  ];
}

async function main(): Promise<void> {
  const started = Date.now();
  const registries = REGISTRIES.map((name) => {
    const registry = [civilStatus, land].find((r) => r.name === name);
    if (!registry)
      throw new Error(`BENCH_REGISTRIES: unknown registry ${name} (civil-status, land)`);
    return registry;
  });
  log('local stack');
  const stack = stackUp();
  log(`build (portal-sim, ${registries.map((r) => r.service).join(', ')})`);
  build(['portal-sim', ...registries.map((r) => r.service)]);
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: stack.kafkaBrokers.split(','),
    sasl: kafkaPrincipalSasl('test'),
    logLevel: logLevel.NOTHING,
  });
  const pg = await postgresVersion(stack.databaseUrl);
  const lines = [
    `registries benchmark, ${RUNS} run(s) each (median, then each run): ${new Date().toISOString().slice(0, 10)}, ${versions(pg)}; ${PARTITIONS} partitions; the services run as deploy/service-runtime.json says (${runtimeLine(registries[0]?.entry ?? '')}); portal-sim decides at once (${Object.entries(
      SIM_ENV,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ' ',
      )})${INGEST_ALONE ? '; the registry down while ingest is measured (BENCH_INGEST_ALONE=1)' : ''}`,
  ];
  for (const registry of registries) {
    const runs: RunFigures[] = [];
    for (let run = 1; run <= RUNS; run += 1)
      runs.push(await registryRun(registry, stack, kafka, run));
    lines.push('', ...report(registry, runs, EVENTS));
    if (runs.some((r) => !r.portalOk)) process.exitCode = 1;
  }
  const command = commandLine('bench:registries', {
    BENCH_REGISTRIES: REGISTRIES.join(','),
    BENCH_EVENTS: EVENTS,
    BENCH_RATES: RATES.join(','),
    BENCH_LATENCY_SECONDS: LATENCY_SECONDS,
    BENCH_LATENCY_WAIT_SECONDS: LATENCY_WAIT_SECONDS,
    BENCH_OUTAGE_SECONDS: OUTAGE_SECONDS,
    BENCH_OUTAGE_RATE: OUTAGE_RATE,
    BENCH_RUNS: RUNS,
    BENCH_PORTAL_CONCURRENCY: PORTAL_CONCURRENCY,
    BENCH_PORTAL_SECONDS: PORTAL_SECONDS,
  });
  lines.push('', `Command: \`${command}\`; the run took ${fmt((Date.now() - started) / 1000)} s.`);
  const text = lines.join('\n');
  process.stdout.write(`${text}\n`);
  if (process.env.BENCH_WRITE_RESULTS === '1') writeResults('registries', text);
}

runMain(main);
