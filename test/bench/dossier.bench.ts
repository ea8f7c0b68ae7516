// `npm run bench:dossier` — a benchmark, not a test: dossier events through Lienthong (dossier-sync:
// transactional batches into the ledger, dispatcher pushing to DVCQG) and, in the same run, through
// a baseline (stock NestJS Kafka transport, @EventPattern handler calling DVCQG per message),
// both against the same portal-sim on the same local stack. Prints figures and ratios.
//
// Knobs: BENCH_DOSSIERS (throughput workload, default 400 dossiers ≈ 4,100 events),
// BENCH_RATES (offered events/s in the latency phases, default 50,100: below and above the
// baseline's capacity), BENCH_LATENCY_SECONDS (15 per rate).
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { Client } from 'pg';
import type { EncodedRecord } from '@lienthong/contracts';
import { TOPICS } from '@lienthong/contracts';
import {
  Rng,
  SIMULATOR_ADMIN_TOKEN,
  dossierLifecycle,
  kafkaPrincipalSasl,
  lifecycleRecords,
} from '@lienthong/testing';
import type { DossierLifecycle } from '@lienthong/testing';
import {
  build,
  fmt,
  freePort,
  log,
  peakRssMiB,
  percentile,
  runMain,
  stackUp,
  startProcess,
  stopProcess,
} from './bench-kit';
import type { Stack } from './bench-kit';

const DOSSIERS = Number(process.env.BENCH_DOSSIERS ?? 400);
const RATES = (process.env.BENCH_RATES ?? '50,100').split(',').map(Number);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
const PARTITIONS = 12;
const runId = Date.now().toString(36);

function records(
  lives: DossierLifecycle[],
): Array<{ record: EncodedRecord; key: string; sequence: number }> {
  return lives.flatMap((life) =>
    lifecycleRecords(life).map((record, i) => ({
      key: life.code,
      sequence: life.events[i]?.sequence ?? 0,
      record,
    })),
  );
}

/** Arrival times of status events per dossier: [sequence, ms] in arrival order. */
class StatusWatch {
  readonly seen = new Map<string, Array<[number, number]>>();
  count = 0;
  private consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
  ) {
    this.consumer = kafka.consumer({ groupId: `${topic}.watch`, maxWaitTimeInMs: 50 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const body = JSON.parse(m.value?.toString() ?? '{}') as {
            key?: string;
            entity?: { key: string };
            state: string;
            sequence: number;
          };
          if (body.state !== 'SYNCED') continue;
          const key = body.entity?.key ?? body.key ?? '';
          const list = this.seen.get(key) ?? [];
          list.push([body.sequence, now]);
          this.seen.set(key, list);
          this.count += 1;
        }
        await Promise.resolve();
      },
    });
  }

  /** When the portal first reflected (key, sequence) at or after `since`. */
  syncedAt(key: string, sequence: number, since: number): number | undefined {
    return this.seen.get(key)?.find(([seq, t]) => seq >= sequence && t >= since)?.[1];
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

interface Latency {
  rate: number;
  p50: number;
  p95: number;
  p99: number;
}

interface Figures {
  ingestPerSecond: number;
  endToEndPerSecond: number;
  latency: Latency[];
  peakRssMiB: number;
  portalWrites: number;
  portalOk: boolean;
}

type System = 'lienthong' | 'baseline';

async function runSystem(system: System, stack: Stack, kafka: Kafka): Promise<Figures> {
  const prefix = `bench.${runId}.${system}`;
  const topic = `${prefix}.${TOPICS.communeDossierEvents}`;
  const statusTopic = `${prefix}.${TOPICS.syncStatus}`;
  const statusV2Topic = `${prefix}.${TOPICS.syncStatusV2}`;
  const simSchema = `bench_${system}_sim`;
  const dsSchema = `bench_${system}_ds`;
  const db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  for (const s of [simSchema, dsSchema]) await db.query(`drop schema if exists "${s}" cascade`);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, `${topic}.dlq.v1`, statusTopic, statusV2Topic].map((t) => ({
      topic: t,
      numPartitions: PARTITIONS,
    })),
  });

  const simPort = await freePort();
  const sim = await startProcess(
    'portal-sim',
    'services/portal-sim/dist/main.js',
    {
      PORT: String(simPort),
      DATABASE_URL: stack.databaseUrl,
      PORTAL_SIM_SCHEMA: simSchema,
      PORTAL_SIM_ADMIN_TOKEN: SIMULATOR_ADMIN_TOKEN,
    },
    { url: `http://127.0.0.1:${simPort}/health` },
  );
  const port = await freePort();
  const service =
    system === 'lienthong'
      ? await startProcess(
          'dossier-sync',
          'services/dossier-sync/dist/main.js',
          {
            PORT: String(port),
            DATABASE_URL: stack.databaseUrl,
            KAFKA_BROKERS: stack.kafkaBrokers,
            DB_SCHEMA: dsSchema,
            EVENTS_TOPIC: topic,
            SYNC_STATUS_TOPIC: statusTopic,
            SYNC_STATUS_V2_TOPIC: statusV2Topic,
            KAFKA_GROUP_ID: `${topic}.dossier-sync`,
            DVCQG_BASE_URL: `http://127.0.0.1:${simPort}`,
            LOG_LEVEL: 'warn',
          },
          { url: `http://127.0.0.1:${port}/health/ready` },
        )
      : await startProcess(
          'baseline',
          'test/bench/dist/baseline.main.js',
          {
            KAFKA_BROKERS: stack.kafkaBrokers,
            BENCH_DOSSIER_TOPIC: topic,
            BENCH_STATUS_TOPIC: statusTopic,
            DVCQG_BASE_URL: `http://127.0.0.1:${simPort}`,
          },
          { line: 'baseline ready' },
        );
  const watch = new StatusWatch(kafka, statusTopic);
  await watch.start();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();

  try {
    // Phase 1: throughput. Everything produced as fast as possible.
    const lives = Array.from({ length: DOSSIERS }, (_, i) =>
      dossierLifecycle(new Rng(i + 1), { number: i + 1 }),
    );
    const load = records(lives);
    const consumed = async () =>
      system === 'lienthong'
        ? Number(
            (await db.query<{ n: string }>(`select count(*) n from "${dsSchema}".processed_event`))
              .rows[0]?.n,
          )
        : watch.count;
    const synced = async () =>
      system === 'lienthong'
        ? Number(
            (
              await db.query<{ n: string }>(
                `select count(*) n from "${dsSchema}".sync_entity where state = 'SYNCED'`,
              )
            ).rows[0]?.n,
          ) === lives.length
        : watch.count >= load.length;
    log(`${system}: producing ${load.length} events (${DOSSIERS} dossiers)`);
    const t0 = Date.now();
    for (let i = 0; i < load.length; i += 500)
      await producer.send({
        topic,
        acks: -1,
        messages: load.slice(i, i + 500).map((l) => l.record),
      });
    let ingestedAt = 0;
    for (;;) {
      const now = Date.now();
      if (!ingestedAt && (await consumed()) >= load.length) ingestedAt = now;
      if (ingestedAt && (await synced())) break;
      if (now - t0 > 150_000) throw new Error(`${system}: not synced within 150 s`);
      await sleep(50);
    }
    const doneAt = Date.now();
    const ingestPerSecond = load.length / ((ingestedAt - t0) / 1000);
    const endToEndPerSecond = load.length / ((doneAt - t0) / 1000);
    log(
      `${system}: ingest ${ingestPerSecond.toFixed(0)} ev/s, end to end ${endToEndPerSecond.toFixed(0)} ev/s`,
    );

    // Phase 2: latency at fixed offered rates.
    const more: DossierLifecycle[] = [];
    const latency: Latency[] = [];
    for (const [r, rate] of RATES.entries()) {
      const target = rate * LATENCY_SECONDS;
      const phase: DossierLifecycle[] = [];
      for (let n = 0, events = 0; events < target; n += 1) {
        const life = dossierLifecycle(new Rng(100_000 * (r + 1) + n), {
          number: 3000 * (r + 1) + n,
        });
        phase.push(life);
        events += life.events.length;
      }
      more.push(...phase);
      const paced = records(phase);
      const sentAt: number[] = [];
      const start = Date.now();
      const tick = 50;
      for (let i = 0; i < paced.length;) {
        const due = Math.min(paced.length, Math.floor(((Date.now() - start) / 1000) * rate) + 1);
        if (due > i) {
          const slice = paced.slice(i, due);
          const now = Date.now();
          await producer.send({ topic, acks: -1, messages: slice.map((l) => l.record) });
          slice.forEach(() => sentAt.push(now));
          i = due;
        }
        await sleep(tick);
      }
      const latencies: number[] = [];
      const deadline = Date.now() + 120_000;
      for (;;) {
        latencies.length = 0;
        let missing = 0;
        paced.forEach((l, i) => {
          const at = watch.syncedAt(l.key, l.sequence, sentAt[i] as number);
          if (at === undefined) missing += 1;
          else latencies.push(at - (sentAt[i] as number));
        });
        if (missing === 0) break;
        if (Date.now() > deadline) {
          const lost = paced.filter(
            (l, i) => watch.syncedAt(l.key, l.sequence, sentAt[i] as number) === undefined,
          );
          const ledger =
            system === 'lienthong'
              ? (
                  await db.query(
                    `select entity_key, state, source_sequence, last_error from "${dsSchema}".sync_entity where entity_key = any($1)`,
                    [lost.map((l) => l.key)],
                  )
                ).rows
              : [];
          throw new Error(
            `${system}: ${missing} events never reached SYNCED: ${JSON.stringify({
              lost: lost.map((l) => [l.key, l.sequence]),
              ledger,
              seen: lost.map((l) => watch.seen.get(l.key)),
            })}`,
          );
        }
        await sleep(200);
      }
      latencies.sort((a, b) => a - b);
      latency.push({
        rate,
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
      });
      log(`${system}: latency at ${rate} ev/s measured`);
    }
    const peak = peakRssMiB(service);

    // What DVCQG holds must be exactly what was sent (both systems), and how many writes it took.
    const all = [...lives, ...more];
    const held = await db.query(
      `select (select count(*) from "${simSchema}".dvcqg_dossier) dossiers, (select count(*) from "${simSchema}".dvcqg_step) steps,
              (select coalesce(sum(writes), 0) from "${simSchema}".write_effect) writes`,
    );
    const row = held.rows[0] as { dossiers: string; steps: string; writes: string };
    const expectedSteps = all.reduce((s, l) => s + l.steps.length, 0);
    const portalOk = Number(row.dossiers) === all.length && Number(row.steps) === expectedSteps;
    if (!portalOk)
      log(
        `${system}: portal holds ${row.dossiers} dossiers / ${row.steps} steps, expected ${all.length} / ${expectedSteps}`,
      );
    return {
      ingestPerSecond,
      endToEndPerSecond,
      latency,
      peakRssMiB: peak,
      portalWrites: Number(row.writes),
      portalOk,
    };
  } finally {
    await producer.disconnect();
    await watch.stop();
    await stopProcess(service);
    await stopProcess(sim);
    await admin
      .deleteTopics({ topics: [topic, `${topic}.dlq.v1`, statusTopic] })
      .catch(() => undefined);
    await admin.disconnect();
    for (const s of [simSchema, dsSchema]) await db.query(`drop schema if exists "${s}" cascade`);
    await db.end();
  }
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
  const lienthong = await runSystem('lienthong', stack, kafka);
  const baseline = await runSystem('baseline', stack, kafka);

  const f = fmt;
  const rows: Array<[string, number, number, number]> = [
    ['ingest, events/s (higher is better)', lienthong.ingestPerSecond, baseline.ingestPerSecond, 0],
    [
      'end to end until all SYNCED, events/s (higher is better)',
      lienthong.endToEndPerSecond,
      baseline.endToEndPerSecond,
      0,
    ],
    ...lienthong.latency.flatMap((l, i): Array<[string, number, number, number]> => {
      const b = baseline.latency[i] as Latency;
      return [
        [`event→SYNCED p50 at ${l.rate} ev/s offered, ms (lower is better)`, l.p50, b.p50, 0],
        [`event→SYNCED p95 at ${l.rate} ev/s offered, ms`, l.p95, b.p95, 0],
        [`event→SYNCED p99 at ${l.rate} ev/s offered, ms`, l.p99, b.p99, 0],
      ];
    }),
    ['peak RSS of the service, MiB', lienthong.peakRssMiB, baseline.peakRssMiB, 0],
    ['DVCQG write calls for the whole run', lienthong.portalWrites, baseline.portalWrites, 0],
  ];
  const out = [
    `dossier benchmark: ${DOSSIERS} dossiers for throughput, ${RATES.join(' and ')} events/s for ${LATENCY_SECONDS} s each for latency; ${PARTITIONS} partitions; node ${process.version}`,
    '',
    '| metric | Lienthong (dossier-sync) | baseline (stock @EventPattern) | ratio Lienthong / baseline |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      ([name, a, b, d]) => `| ${name} | ${f(a, d)} | ${f(b, d)} | ${(a / b).toFixed(2)}× |`,
    ),
    '',
    `portal content exact: Lienthong ${lienthong.portalOk ? 'yes' : 'NO'}, baseline ${baseline.portalOk ? 'yes' : 'NO'}; run took ${f((Date.now() - started) / 1000)} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (!lienthong.portalOk) process.exitCode = 1;
}

runMain(main);
