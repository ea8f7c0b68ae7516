// `npm run bench:reconcile` — a benchmark, not a test: how fast reconciliation checks dossiers
// against DVCQG (portal-sim), and how long a province-year full sweep would take, each figure
// next to the lookup rate the portal itself allows, measured in the same run with a plain load
// generator (the physical limit of a per-record lookup API: one call per dossier).
//
// Phases, on one portal-sim and one dossier-sync with BENCH_RECONCILE_DOSSIERS synced dossiers:
//   1. portal capacity: the load generator (BENCH_LOOKUP_CONCURRENCY callers, keep-alive) asks
//      DVCQG's lookup (TraCuuHoSo) for the dossiers for BENCH_WINDOW_SECONDS, no rate limit;
//   2. a dry-run reconciliation of every dossier with no limit but the portal's speed;
//   3. portal-sim's rate limit at BENCH_PORTAL_LIMIT lookups/s per client (DVCQG publishes no
//      quota: 50/s is our assumption of a realistic one); the load generator again;
//   4. dry runs under that limit, dossier-sync told the quota: with the whole quota
//      (RECONCILE_QUOTA_SHARE=1) and with the default share (0.2, the rest kept for pushes).
// A reconciliation's rate is its steady rate: entities checked from the end of its first page to
// its last page, over that time (the first page is a burst the budget allows; the walk's end and
// the summary are not checking).
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { Client } from 'pg';
import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import type { Reconcile } from '@lienthong/contracts';
import { DVCQG_OK, dvcqgList } from '@lienthong/portal-clients';
import type { DvcqgResponse } from '@lienthong/portal-clients';
import {
  Rng,
  dossierLifecycle,
  kafkaPrincipalSasl,
  SIMULATOR_ADMIN_TOKEN,
  lifecycleRecords,
  opsReconcile,
  toRecord,
} from '@lienthong/testing';
import {
  benchProducer,
  build,
  commandLine,
  fmt,
  freePort,
  log,
  machine,
  runMain,
  stackUp,
  startPortalSim,
  startProcess,
  stopProcess,
} from './bench-kit';
import type { Stack } from './bench-kit';

const DOSSIERS = Number(process.env.BENCH_RECONCILE_DOSSIERS ?? 3000);
const LIMIT = Number(process.env.BENCH_PORTAL_LIMIT ?? 50);
const WINDOW_SECONDS = Number(process.env.BENCH_WINDOW_SECONDS ?? 15);
const CONCURRENCY = Number(process.env.BENCH_LOOKUP_CONCURRENCY ?? 16);
const PROVINCE_YEAR = 2_000_000;
const DEFAULT_SHARE = 0.2;
const runId = Date.now().toString(36);
const DVCQG = { username: 'lienthong', password: 'lienthong-dvcqg', unit: 'H56' };

/** Plain DVCQG lookups as fast as `concurrency` callers go: answers per second by kind. */
async function lookupLoad(
  baseUrl: string,
  keys: string[],
  seconds: number,
): Promise<{ perSecond: number; refusedPerSecond: number }> {
  const auth = (await (
    await fetch(`${baseUrl}/dvcqg/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: DVCQG.username, password: DVCQG.password }),
    })
  ).json()) as { session?: string };
  if (!auth.session) throw new Error('the load generator could not log in to DVCQG');
  // Counted after a one-second warm-up (connections, JIT, the limit's initial burst).
  const warmUntil = Date.now() + 1000;
  const end = warmUntil + seconds * 1000;
  let answered = 0;
  let refused = 0;
  let next = 0;
  const caller = async () => {
    while (Date.now() < end) {
      const key = keys[next++ % keys.length] as string;
      const res = await fetch(`${baseUrl}/dvcqg/api`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          session: auth.session,
          madonvi: DVCQG.unit,
          service: 'TraCuuHoSo',
          mahoso: key,
        }),
      });
      const body = (await res.json()) as DvcqgResponse;
      if (Date.now() < warmUntil) continue;
      if (res.status === 429) refused += 1;
      else if (res.ok && DVCQG_OK(body.error_code) && dvcqgList(body)[0]?.MaHoSo === key)
        answered += 1;
      else throw new Error(`lookup of ${key}: HTTP ${res.status} ${JSON.stringify(body)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  return { perSecond: answered / seconds, refusedPerSecond: refused / seconds };
}

interface RunFigures {
  total: number;
  perSecond: number;
  rateLimited: number;
}

async function main(): Promise<void> {
  const started = Date.now();
  log('local stack');
  const stack: Stack = stackUp();
  log('build (portal-sim, dossier-sync)');
  build(['portal-sim', 'dossier-sync']);
  const kafka = new Kafka({
    clientId: 'bench-reconcile',
    brokers: stack.kafkaBrokers.split(','),
    sasl: kafkaPrincipalSasl('test'),
    logLevel: logLevel.NOTHING,
  });
  const prefix = `bench.${runId}.reconcile`;
  const topics = {
    events: `${prefix}.${TOPICS.communeDossierEvents}`,
    status: `${prefix}.${TOPICS.syncStatus}`,
    statusV2: `${prefix}.${TOPICS.syncStatusV2}`,
    health: `${prefix}.${TOPICS.syncHealthV2}`,
    ops: `${prefix}.${TOPICS.opsCommands}`,
    progress: `${prefix}.${TOPICS.syncReconcile}`,
  };
  const allTopics = [...Object.values(topics), `${topics.events}.dlq.v1`, `${topics.ops}.dlq.v1`];
  const simSchema = 'bench_reconcile_sim';
  const dsSchema = 'bench_reconcile_ds';
  const db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  for (const s of [simSchema, dsSchema]) await db.query(`drop schema if exists "${s}" cascade`);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: allTopics.map((topic) => ({ topic, numPartitions: topic === topics.events ? 12 : 1 })),
  });
  const producer: Producer = await benchProducer(kafka);

  const sim = await startPortalSim(stack, simSchema, SIMULATOR_ADMIN_TOKEN);
  const simUrl = sim.url;
  const adminCall = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${simUrl}/admin${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${SIMULATOR_ADMIN_TOKEN}`,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`portal-sim ${method} ${path}: ${res.status}`);
    return res.json() as Promise<Record<string, Record<string, number>>>;
  };
  const servicePort = await freePort();
  const startService = (env: Record<string, string>) =>
    startProcess(
      'dossier-sync',
      'services/dossier-sync/dist/main.js',
      {
        PORT: String(servicePort),
        DATABASE_URL: stack.databaseUrl,
        KAFKA_BROKERS: stack.kafkaBrokers,
        DB_SCHEMA: dsSchema,
        EVENTS_TOPIC: topics.events,
        SYNC_STATUS_TOPIC: topics.status,
        SYNC_STATUS_V2_TOPIC: topics.statusV2,
        SYNC_HEALTH_TOPIC: topics.health,
        OPS_COMMANDS_TOPIC: topics.ops,
        SYNC_RECONCILE_TOPIC: topics.progress,
        KAFKA_GROUP_ID: `${prefix}.dossier-sync`,
        DVCQG_BASE_URL: simUrl,
        LOG_LEVEL: 'warn',
        RECONCILE_IDLE_MS: '100',
        // Runs by command only: the scheduled tiers would share the budget.
        RECONCILE_RECENT_EVERY_MS: '0',
        RECONCILE_OPEN_EVERY_MS: '0',
        RECONCILE_SWEEP_PERIOD_MS: '0',
        ...env,
      },
      { url: `http://127.0.0.1:${servicePort}/health/ready` },
    );

  /** A dry run over `keys` (all dossiers when omitted); its steady rate, once it finished. */
  const reconcile = async (keys?: string[], ratePerSecond?: number): Promise<RunFigures> => {
    const command: Reconcile = {
      ...(opsReconcile() as Reconcile),
      commandId: randomUUID(),
      requestedAt: new Date().toISOString(),
      scope: { domain: 'dossier', ...(keys ? { keys: keys as [string, ...string[]] } : {}) },
      dryRun: true,
      ...(ratePerSecond ? { ratePerSecond } : {}),
    };
    const before = await adminCall('GET', '/requests');
    await producer.send({
      topic: topics.ops,
      messages: [
        toRecord({ name: '', type: EVENT_TYPES.OpsCommand, topic: topics.ops, data: command }),
      ],
    });
    // The steady rate: from the end of the first page to the last change of `checked`.
    let firstPage: { at: number; checked: number } | undefined;
    let lastChange: { at: number; checked: number } | undefined;
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      const { rows } = await db.query<{ status: string; checked: number; total: number }>(
        `select status, checked, total from "${dsSchema}".reconcile_run where command_id = $1`,
        [command.commandId],
      );
      const run = rows[0];
      const now = Date.now();
      if (run && run.checked > 0 && !firstPage) firstPage = { at: now, checked: run.checked };
      if (run && run.checked > (lastChange?.checked ?? 0))
        lastChange = { at: now, checked: run.checked };
      if (run?.status === 'finished' && firstPage && lastChange) {
        const after = await adminCall('GET', '/requests');
        const limited =
          (after.dvcqg?.['rate-limited'] ?? 0) - (before.dvcqg?.['rate-limited'] ?? 0);
        if (run.checked !== run.total)
          throw new Error(`run checked ${run.checked} of ${run.total}`);
        return {
          total: run.total,
          perSecond:
            lastChange.at > firstPage.at
              ? (lastChange.checked - firstPage.checked) / ((lastChange.at - firstPage.at) / 1000)
              : NaN,
          rateLimited: limited,
        };
      }
      if (run && run.status !== 'running') throw new Error(`run ended ${run.status}`);
      if (now > deadline) throw new Error('run not finished within 30 minutes');
      await sleep(100);
    }
  };

  let service: ChildProcess | undefined;
  try {
    // Seed: DOSSIERS dossiers received and synced through dossier-sync.
    service = await startService({});
    const lives = Array.from({ length: DOSSIERS }, (_, i) =>
      dossierLifecycle(new Rng(i + 1), {
        number: (i % 9000) + 1,
        submittedOn: `2025-07-${String(1 + Math.floor(i / 9000)).padStart(2, '0')}`,
        endAt: 2,
      }),
    );
    const keys = lives.map((l) => l.code);
    const records = lives.flatMap((l) => lifecycleRecords(l));
    log(`seeding ${DOSSIERS} dossiers (${records.length} events)`);
    for (let i = 0; i < records.length; i += 500)
      await producer.send({ topic: topics.events, acks: -1, messages: records.slice(i, i + 500) });
    const seedDeadline = Date.now() + 10 * 60_000;
    for (;;) {
      const { rows } = await db.query<{ n: number }>(
        `select count(*)::int n from "${dsSchema}".sync_entity where state = 'SYNCED'`,
      );
      if ((rows[0]?.n ?? 0) >= DOSSIERS) break;
      if (Date.now() > seedDeadline)
        throw new Error(`seeding: ${rows[0]?.n} of ${DOSSIERS} synced`);
      await sleep(250);
    }

    log(`1. portal capacity: ${CONCURRENCY} callers, ${WINDOW_SECONDS} s`);
    const capacity = await lookupLoad(simUrl, keys, WINDOW_SECONDS);
    log(`   ${fmt(capacity.perSecond)} lookups/s`);

    log('2. reconciliation, no limit');
    await stopProcess(service);
    service = await startService({ RECONCILE_RATE_PER_SECOND: '10000' });
    const unlimited = await reconcile(undefined, 10_000);
    log(`   ${fmt(unlimited.perSecond)} checked/s`);

    log(`3. portal limit ${LIMIT}/s per client: load generator`);
    await adminCall('PUT', '/faults/dvcqg', { rateLimit: { perSecond: LIMIT } });
    const allowed = await lookupLoad(simUrl, keys, WINDOW_SECONDS);
    log(
      `   ${fmt(allowed.perSecond, 1)} lookups/s answered, ${fmt(allowed.refusedPerSecond)} refused/s`,
    );

    const limitedRun = async (share: number) => {
      if (service) await stopProcess(service);
      service = await startService({
        DVCQG_RATE_LIMIT_PER_SECOND: String(LIMIT),
        RECONCILE_QUOTA_SHARE: String(share),
        RECONCILE_RATE_PER_SECOND: '10000',
      });
      // About 30 s of checking at the share's rate, and at least three pages.
      const n = Math.min(DOSSIERS, Math.max(150, Math.round(LIMIT * share * 30)));
      const figures = await reconcile(keys.slice(0, n));
      log(`   share ${share}: ${fmt(figures.perSecond, 1)} checked/s over ${n} dossiers`);
      return figures;
    };
    log('4. reconciliation under the limit');
    const whole = await limitedRun(1);
    const share = await limitedRun(DEFAULT_SHARE);

    const hours = (perSecond: number) => PROVINCE_YEAR / perSecond / 3600;
    const rows: Array<[string, number, number, string]> = [
      [
        'portal-sim lookups, no limit (load generator)',
        capacity.perSecond,
        capacity.perSecond,
        '—',
      ],
      [
        'reconciliation, no limit',
        unlimited.perSecond,
        capacity.perSecond,
        String(unlimited.rateLimited),
      ],
      [
        `portal-sim lookups at its limit of ${LIMIT}/s (load generator)`,
        allowed.perSecond,
        allowed.perSecond,
        '—',
      ],
      [
        'reconciliation with the whole quota (RECONCILE_QUOTA_SHARE=1)',
        whole.perSecond,
        allowed.perSecond,
        String(whole.rateLimited),
      ],
      [
        `reconciliation with the default share (${DEFAULT_SHARE})`,
        share.perSecond,
        allowed.perSecond,
        String(share.rateLimited),
      ],
    ];
    const out = [
      `reconcile benchmark: ${fmt(DOSSIERS)} synced dossiers, dry runs against portal-sim (DVCQG lookups); ${machine()}`,
      '',
      "| what | checked (or looked up) per second | ratio to the portal's lookup rate in that setting | province-year sweep (2,000,000 dossiers), hours | 429 answers the run caused |",
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows.map(
        ([name, rate, limit, limited]) =>
          `| ${name} | ${fmt(rate, 1)} | ${(rate / limit).toFixed(2)} | ${fmt(hours(rate), 1)} | ${limited} |`,
      ),
      '',
      `load generator: ${CONCURRENCY} concurrent callers, ${WINDOW_SECONDS} s each; refused at the limit: ${fmt(allowed.refusedPerSecond)}/s; run took ${fmt((Date.now() - started) / 1000)} s`,
      '',
      `Command: \`${commandLine('bench:reconcile', {
        BENCH_RECONCILE_DOSSIERS: DOSSIERS,
        BENCH_PORTAL_LIMIT: LIMIT,
        BENCH_WINDOW_SECONDS: WINDOW_SECONDS,
        BENCH_LOOKUP_CONCURRENCY: CONCURRENCY,
      })}\``,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    if (service) await stopProcess(service);
    await producer.disconnect();
    await stopProcess(sim.child);
    await admin.deleteTopics({ topics: allTopics }).catch(() => undefined);
    await admin.disconnect();
    for (const s of [simSchema, dsSchema]) await db.query(`drop schema if exists "${s}" cascade`);
    await db.end();
  }
}

runMain(main);
