// What every benchmark script needs: the local stack, built services as child processes, free
// ports, peak memory, percentiles and figures printed the same way.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { Client as PgClient } from 'pg';
import { Pool as HttpPool } from 'undici';
import type { Client } from 'pg';
import type { EncodedRecord } from '@lienthong/contracts';
import { KeyHashPartitioner } from '@lienthong/messaging';
import { portalVars, syncServiceVars } from '@lienthong/sync-service';
import {
  connectedProducer,
  kafkaPrincipalEnv,
  principalOfEntry,
  serviceRuntime,
} from '@lienthong/testing';

export const root = resolve(__dirname, '..', '..');

/** Progress lines go to stderr; stdout carries only the results. */
export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export interface Stack {
  kafkaBrokers: string;
  databaseUrl: string;
  kafkaSecretsDir?: string;
}

/**
 * The bench's own producer (the communes' events), connected: idempotent, partitioned as the services do
 * (KeyHashPartitioner: the Java client's partitions at a fraction of kafkajs' CPU, which the bench
 * would otherwise take from the processes it measures on the same cores).
 */
export function benchProducer(kafka: Kafka): Promise<Producer> {
  return connectedProducer(kafka, KeyHashPartitioner);
}

/** Starts (or finds) the local stack: Kafka and PostgreSQL. */
export function stackUp(): Stack {
  const out = execFileSync(process.execPath, [join(root, 'deploy/local/stack.ts'), 'json'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stack = JSON.parse(out.trim().split('\n').pop() as string) as Stack;
  // BENCH_DATABASE_SOCKET=<dir>: every connection of the run (the services', the limits', the
  // bench's own) goes to the same server over its Unix socket in <dir> instead of TCP.
  const socket = process.env.BENCH_DATABASE_SOCKET;
  if (socket) {
    const url = new URL(stack.databaseUrl);
    url.searchParams.set('host', socket);
    stack.databaseUrl = url.toString();
  }
  // The Kafka principals' password files (kafkaPrincipalEnv, testKafka read them from here).
  if (stack.kafkaSecretsDir) process.env.KAFKA_SECRETS_DIR = stack.kafkaSecretsDir;
  return stack;
}

/** What the processes a bench starts log: with BENCH_SERVICE_LOGS, their info lines too. */
const SERVICE_LOG_LEVEL = process.env.BENCH_SERVICE_LOGS ? 'info' : 'warn';

/** Builds the Nx projects a bench runs (their dist entries). */
export function build(projects: string[]): void {
  execFileSync(
    join(root, 'node_modules/.bin/nx'),
    ['run-many', '-t', 'build', '-p', projects.join(','), '--outputStyle=static'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/**
 * The ports freePort handed out in this process. A port is free when asked for but bound only when
 * the process it is for starts, so the system may offer it again meanwhile: two processes given
 * one port, the second fails to start and the first answers its readiness probe (a registries run
 * failed once that way, it seems: "relation consumer_offset does not exist" in a schema its
 * service never migrated).
 */
const handedOut = new Set<number>();

/** A loopback port no process holds now and none in this run was given before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((done, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const a = server.address();
        server.close(() => done(typeof a === 'object' && a ? a.port : 0));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Where the processes started from now on write their statement counts (StatementAccount). */
let statementCountsDir: string | undefined;

/** The processes startProcess started that have not exited yet. */
const children = new Set<ChildProcess>();
let signalsHandled = false;

/**
 * A bench stopped by a signal (SIGTERM from `kill`, SIGINT, SIGHUP) stops the processes it started
 * first, as stopProcess does: a child outlives a parent that only it was sent to, and services left
 * running beside later runs took CPU from them unseen (about 4 % of a core each, idle).
 */
function stopChildrenOnSignal(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`[bench] ${signal}: stopping the ${children.size} processes it started\n`);
    void Promise.all([...children].map((c) => stopProcess(c))).finally(() =>
      process.exit(signal === 'SIGINT' ? 130 : 143),
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, onSignal);
}

/** A service as a child process; ready when `readyUrl` answers 200 or stdout prints `readyLine`. */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: { url?: string; line?: string },
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  // A service authenticates to Kafka as itself; the baseline, a bench program, as `test`.
  const principal = principalOfEntry(entry) ?? 'test';
  // Run as every launcher runs it (deploy/service-runtime.json), plus the bench's own flags.
  const runtime = serviceRuntime(entry);
  // BENCH_COUNT_STATEMENTS=1: every process counts its statements (StatementAccount).
  const counting = statementCountsDir
    ? ['--require', join(__dirname, 'statement-counter.cjs')]
    : [];
  const child = spawn(
    process.execPath,
    [...runtime.nodeArgs, ...counting, ...nodeArgs, join(root, entry)],
    {
      cwd: root,
      env: {
        ...process.env,
        ...runtime.env,
        ...kafkaPrincipalEnv(principal),
        ...(statementCountsDir
          ? { BENCH_STATEMENT_COUNTS_DIR: statementCountsDir, BENCH_PROCESS_NAME: name }
          : {}),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  stopChildrenOnSignal();
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  // BENCH_SERVICE_LOGS=<dir>: each process's output also goes to <dir>/<name>.log, to line its
  // own log (an upkeep round, a breaker opening) up against a phase's slow half-seconds.
  const logDir = process.env.BENCH_SERVICE_LOGS;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const file = logDir ? createWriteStream(join(logDir, `${name}.log`), { flags: 'a' }) : undefined;
  const keep = (c: Buffer) => {
    file?.write(c);
    // Only the start's output is read (its ready line, or why it died): not kept past it.
    if (output.length < 1_000_000) output += c.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start:\n${output}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready within 60 s:\n${output}`);
    if (ready.line && output.includes(ready.line)) return child;
    if (ready.url) {
      const ok = await fetch(ready.url).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return child;
    }
    await sleep(100);
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

/** Peak resident set (VmHWM) of a live process, in MiB. */
export function peakRssMiB(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** A number for a results table: thousands separated, `digits` decimals. */
export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The machine a run measured: cores, memory, Node. */
export function machine(): string {
  return `${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

/** Runs a bench's main: a failure prints its stack and exits 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
}

/** The median of some figures (NaN when there are none); Infinity (not reached) counts as the largest. */
export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; 0 once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing paren).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The processes whose command line matches: PostgreSQL backends, the Kafka broker. */
export function pidsMatching(pattern: RegExp): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (pattern.test(cmd)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Where the machine's CPU went during a phase, per party: sample before and after, then `shares`.
 * PostgreSQL is every `postgres` process (backends come and go: their time counts while they live).
 */
export class CpuAccount {
  private before = new Map<string, number>();
  private startedAt = 0;

  constructor(private readonly parties: Record<string, () => number[]>) {}

  private sample(): Map<string, number> {
    return new Map(
      Object.entries(this.parties).map(([name, pids]) => [
        name,
        pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      ]),
    );
  }

  start(): void {
    this.before = this.sample();
    this.startedAt = Date.now();
  }

  /** Per party, its CPU seconds over the phase as a share of all cores' time (wall × cores). */
  stop(): Record<string, number> {
    const after = this.sample();
    const capacity = ((Date.now() - this.startedAt) / 1000) * cpus().length;
    return Object.fromEntries(
      [...after].map(([name, s]) => [
        name,
        Math.max(0, s - (this.before.get(name) ?? 0)) / capacity,
      ]),
    );
  }
}

/**
 * A V8 CPU profile (node --cpu-prof) summed by where the code lives: a package under
 * node_modules, one of our libs or services, Node itself, garbage collection. Self time only.
 */
export function profileSummary(file: string, top = 12): Array<[string, number]> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const where = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const ours = /\/(libs|services)\/([^/]+)\//.exec(url);
    where.set(
      node.id,
      pkg
        ? pkg
        : ours
          ? `${ours[1]}/${ours[2]}`
          : url.startsWith('node:')
            ? 'node (core modules)'
            : url === ''
              ? functionName.startsWith('(')
                ? functionName
                : 'V8 builtins / native'
              : url,
    );
  }
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const key = where.get(id) ?? '?';
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  self.delete('(idle)');
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => [k, v / total]);
}

/** node flags that write a CPU profile of one phase into `dir` (none without BENCH_CPU_PROF). */
export function cpuProfArgs(dir: string | undefined, name: string): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

/** The report's tables of a service's CPU profiles (profileSummary), one per phase profiled. */
export function profileLines(
  service: string,
  phases: ReadonlyArray<readonly [string, Array<[string, number]> | undefined]>,
): string[] {
  return phases.flatMap(([what, profile]) =>
    profile
      ? [
          '',
          `${service}'s CPU profile of ${what} (self time by where the code lives, first run):`,
          '',
          '| code | share |',
          '| --- | ---: |',
          ...profile.map(([k, v]) => `| ${k} | ${(v * 100).toFixed(1)} % |`),
        ]
      : [],
  );
}

/** A portal-sim of its own schema on a free port (a bench's portals never share state). */
export async function startPortalSim(
  stack: Stack,
  schema: string,
  adminToken: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = await startProcess(
    'portal-sim',
    'services/portal-sim/dist/main.js',
    {
      PORT: String(port),
      DATABASE_URL: stack.databaseUrl,
      PORTAL_SIM_SCHEMA: schema,
      PORTAL_SIM_ADMIN_TOKEN: adminToken,
      LOG_LEVEL: SERVICE_LOG_LEVEL,
      ...env,
    },
    { url: `http://127.0.0.1:${port}/health` },
  );
  return { child, url: `http://127.0.0.1:${port}` };
}

export interface StatementFigure {
  calls: number;
  /** Execution time (pg_stat_statements), or the time the clients waited for answers (counted). */
  totalMs: number;
  /** Planning time, when the server tracks it (pg_stat_statements.track_planning); else 0. */
  planMs: number;
  query: string;
  /** The process that sent it, when the clients counted (BENCH_COUNT_STATEMENTS=1). */
  process?: string;
}

/** One process's counts as test/bench/statement-counter.cjs writes them. */
interface CountsFile {
  name: string;
  counts: Array<[string, [number, number]]>;
}

/**
 * The statements a phase ran: PostgreSQL's own account (pg_stat_statements) when the server loads
 * the module (`shared_preload_libraries`; a bench cannot restart the server to add it), or, with
 * BENCH_COUNT_STATEMENTS=1, the processes' own: every process the bench starts after `open()`
 * preloads test/bench/statement-counter.cjs, which counts its node-postgres queries and the time it
 * waited for their answers and writes them to a file every 250 ms (so a phase's edges are read to
 * within about 250 ms).
 */
export class StatementAccount {
  private source: 'server' | 'clients' | undefined;
  private countsDir = '';
  private before = new Map<string, [number, number]>();

  constructor(private readonly db: Client) {}

  /** Whether statements are counted; creates the extension, or the counters' directory. */
  async open(): Promise<boolean> {
    if (process.env.BENCH_COUNT_STATEMENTS === '1') {
      this.source = 'clients';
      const dir = mkdtempSync(join(tmpdir(), 'bench-statements-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      this.countsDir = dir;
      // startProcess preloads the counter into every process it starts from now on.
      statementCountsDir = dir;
      return true;
    }
    const { rows } = await this.db.query<{ loaded: boolean }>(
      `select current_setting('shared_preload_libraries') like '%pg_stat_statements%' loaded`,
    );
    if (rows[0]?.loaded !== true) return false;
    this.source = 'server';
    await this.db.query('create extension if not exists pg_stat_statements');
    return true;
  }

  async reset(): Promise<void> {
    if (this.source === 'server') await this.db.query('select pg_stat_statements_reset()');
    if (this.source === 'clients') this.before = this.counted();
  }

  /** The statements that took the most time since the last reset (and, counted, each process's total). */
  async top(n: number): Promise<StatementFigure[]> {
    if (this.source === 'clients') return this.topCounted(n);
    if (this.source !== 'server') return [];
    const { rows } = await this.db.query<{
      calls: string;
      total: number;
      plan: number;
      query: string;
    }>(
      `select calls, total_exec_time total, total_plan_time plan, query from pg_stat_statements
       where query not like '%pg_stat_statements%'
       order by total_exec_time + total_plan_time desc limit $1`,
      [n],
    );
    return rows.map((r) => ({
      calls: Number(r.calls),
      totalMs: r.total,
      planMs: r.plan,
      query: shortStatement(r.query),
    }));
  }

  /** Every process's counts so far, by "<process>\0<statement>". */
  private counted(): Map<string, [number, number]> {
    const all = new Map<string, [number, number]>();
    for (const file of readdirSync(this.countsDir)) {
      if (!file.endsWith('.json')) continue;
      const { name, counts } = readCounts(join(this.countsDir, file));
      for (const [statement, [calls, ms]] of counts) {
        const key = `${name}\0${shortStatement(statement)}`;
        const sum = all.get(key) ?? [0, 0];
        all.set(key, [sum[0] + calls, sum[1] + ms]);
      }
    }
    return all;
  }

  /** Each process's total first, then the n statements the clients waited longest for. */
  private topCounted(n: number): StatementFigure[] {
    const figures: StatementFigure[] = [];
    for (const [key, [calls, ms]] of this.counted()) {
      const [before, beforeMs] = this.before.get(key) ?? [0, 0];
      if (calls <= before) continue;
      const [name = '', query = ''] = key.split('\0');
      figures.push({
        calls: calls - before,
        totalMs: ms - beforeMs,
        planMs: 0,
        query,
        process: name,
      });
    }
    const totals = new Map<string, StatementFigure>();
    for (const f of figures) {
      const total = totals.get(f.process ?? '') ?? {
        calls: 0,
        totalMs: 0,
        planMs: 0,
        query: '(all its statements)',
        process: f.process,
      };
      total.calls += f.calls;
      total.totalMs += f.totalMs;
      totals.set(f.process ?? '', total);
    }
    return [
      ...[...totals.values()].sort((a, b) => b.calls - a.calls),
      ...figures.sort((a, b) => b.totalMs - a.totalMs).slice(0, n),
    ];
  }
}

/** A counter's file; one caught while its process rewrites it (in place) is read again. */
function readCounts(file: string): CountsFile {
  for (let attempt = 1; ; attempt++) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as CountsFile;
    } catch (err) {
      if (attempt === 20) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // 5 ms, then again
    }
  }
}

/** A statement on one line, without the bench's schema names, cut to 90 characters. */
function shortStatement(query: string): string {
  return query
    .replace(/\s+/g, ' ')
    .replace(/"bench_[a-z0-9_]+"\./g, '')
    .slice(0, 90);
}

/**
 * A phase's statements as a Markdown table (the first run's); `perUnit` adds calls per unit of
 * work (e.g. per registration pushed) when the phase's count is known.
 */
export function statementLines(
  phase: string,
  top: StatementFigure[],
  perUnit?: { unit: string; count: number },
): string[] {
  const per = perUnit && perUnit.count > 0 ? perUnit : undefined;
  const perCell = (calls: number) => (per ? ` ${fmt(calls / per.count, 2)} |` : '');
  const statement = (t: StatementFigure) => `\`${t.query.replaceAll('|', '\\|')}\``;
  if (top.some((t) => t.process !== undefined))
    return [
      '',
      `Statements the processes sent ${phase}, and how long their clients waited for the answers (counted in the processes: BENCH_COUNT_STATEMENTS=1, first run; each process's total first):`,
      '',
      `| process | calls |${per ? ` per ${per.unit} |` : ''} ms waited | ms per call | statement |`,
      `| --- | ---: |${per ? ' ---: |' : ''} ---: | ---: | --- |`,
      ...top.map(
        (t) =>
          `| ${t.process ?? ''} | ${fmt(t.calls)} |${perCell(t.calls)} ${fmt(t.totalMs)} | ${fmt(t.totalMs / t.calls, 2)} | ${statement(t)} |`,
      ),
    ];
  return [
    '',
    `PostgreSQL statements by execution and planning time ${phase} (pg_stat_statements, first run):`,
    '',
    ...(top.length === 0
      ? [
          '(not measured: the server does not load pg_stat_statements; BENCH_COUNT_STATEMENTS=1 counts them in the processes)',
        ]
      : [
          `| calls |${per ? ` per ${per.unit} |` : ''} total ms | ms per call | planning ms per call | statement |`,
          `| ---: |${per ? ' ---: |' : ''} ---: | ---: | ---: | --- |`,
          ...top.map(
            (t) =>
              `| ${fmt(t.calls)} |${perCell(t.calls)} ${fmt(t.totalMs)} | ${fmt(t.totalMs / t.calls, 2)} | ${t.planMs > 0 ? fmt(t.planMs / t.calls, 2) : '—'} | ${statement(t)} |`,
          ),
        ]),
  ];
}

/**
 * A sync service's default KAFKA_PARTITIONS_CONCURRENTLY (libs/sync-service): a database ceiling
 * writes with as many connections as the service applies batches at once.
 */
export const PARTITIONS_CONSUMED_CONCURRENTLY = 8;

/** A record a bench sends, with the entity and sequence its status will name. */
export interface Paced {
  record: EncodedRecord;
  key: string;
  sequence: number;
}

/**
 * One arrival of a watched status, ms: its sequence, when the bench saw it, when the service
 * recorded the state (the status's `occurredAt`) and when the relay produced it (the record's
 * timestamp). NaN where a status does not say (v1 has no `occurredAt`).
 */
type Arrival = [sequence: number, seenAt: number, recordedAt: number, producedAt: number];

/**
 * Arrival times of the statuses a bench waits for, per entity, in arrival order.
 * `states`: the states that count (SYNCED for a one-phase target; for a registry, its accepting
 * the registration is enough). It also keeps when ingest recorded each event in the ledger (the
 * `occurredAt` of its ACCEPTED or SUPERSEDED status), so that a latency can be split into stages.
 */
export class StatusWatch {
  readonly seen = new Map<string, Arrival[]>();
  /** Per entity: sequence → when ingest recorded that event (ACCEPTED or SUPERSEDED), ms. */
  readonly ingested = new Map<string, Map<number, number>>();
  count = 0;
  private consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly states: ReadonlySet<string> = new Set(['SYNCED']),
    private readonly partitions = 12,
  ) {
    this.consumer = kafka.consumer({ groupId: `${topic}.watch`, maxWaitTimeInMs: 20 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.partitions,
      // A watch reads each run's fresh topic from its start and never resumes: committing offsets
      // (kafkajs does after every batch by default) only loaded the broker the bench measures —
      // about 180 OffsetCommit requests a second, more than dossier-sync sent it.
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const body = JSON.parse(m.value?.toString() ?? '{}') as {
            key?: string;
            entity?: { key: string };
            state: string;
            sequence: number;
            occurredAt?: string;
          };
          const key = body.entity?.key ?? body.key ?? '';
          const recordedAt = body.occurredAt ? Date.parse(body.occurredAt) : NaN;
          if (body.state === 'ACCEPTED' || body.state === 'SUPERSEDED') {
            const ingested = this.ingested.get(key) ?? new Map<number, number>();
            ingested.set(body.sequence, recordedAt);
            this.ingested.set(key, ingested);
          }
          if (!this.states.has(body.state)) continue;
          const list = this.seen.get(key) ?? [];
          list.push([body.sequence, now, recordedAt, Number(m.timestamp)]);
          this.seen.set(key, list);
          this.count += 1;
        }
        await Promise.resolve();
      },
    });
  }

  /** The first arrival of a watched state of (key, sequence or later) at or after `since`. */
  arrival(key: string, sequence: number, since: number): Arrival | undefined {
    return this.seen.get(key)?.find(([seq, t]) => seq >= sequence && t >= since);
  }

  /** When a watched state of (key, sequence or later) first arrived at or after `since`. */
  reachedAt(key: string, sequence: number, since: number): number | undefined {
    return this.arrival(key, sequence, since)?.[1];
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/**
 * Polls `check` every `everyMs` until it is true; false if `seconds` pass first. Each poll is a
 * query on the database the bench measures: ledger polls are spaced 250 ms (a figure is then
 * late by at most that much, under 0.5 % of an end-to-end phase).
 */
export async function waitFor(
  check: () => Promise<boolean>,
  seconds: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Event → watched-state times of offered records so far, sorted; Infinity for those not there yet. */
export function reachedTimes(watch: StatusWatch, paced: Paced[], sentAt: number[]): number[] {
  return paced
    .map((l, i) => {
      const at = watch.reachedAt(l.key, l.sequence, sentAt[i] as number);
      return at === undefined ? Infinity : at - (sentAt[i] as number);
    })
    .sort((a, b) => a - b);
}

/**
 * Drops a run's schemas, or with BENCH_KEEP_SCHEMAS=1 keeps them for a look afterwards (their
 * statistics, plans, the ledger's own timestamps) and says which; drop them by hand when done.
 */
export async function dropSchemas(
  db: { query(sql: string): Promise<unknown> },
  schemas: string[],
): Promise<void> {
  if (process.env.BENCH_KEEP_SCHEMAS === '1') {
    log(`kept schemas (BENCH_KEEP_SCHEMAS=1): ${schemas.join(', ')}`);
    return;
  }
  for (const s of schemas) await db.query(`drop schema if exists "${s}" cascade`);
}

/** The p99 latency #14 asks for at an offered rate: 250 ms up to 500/s, 1 s up to 1,000/s. */
function p99LimitMs(rate: number): number | undefined {
  return rate <= 500 ? 250 : rate <= 1000 ? 1000 : undefined;
}

/**
 * Where a latency phase's slow events were sent: counted per half-second of sending, whether the
 * tail is spread or a few stalls hold it. A stall (everything slow at once for a moment) shows as
 * one or two half-seconds holding most of the events over the p99 limit at `rate` (1 s where the
 * issue sets none).
 */
export function slowHalfSeconds(
  watch: StatusWatch,
  paced: Paced[],
  sentAt: number[],
  rate: number,
): string {
  const overMs = p99LimitMs(rate) ?? 1000;
  const start = sentAt[0] ?? 0;
  const perWindow = new Map<number, number>();
  let slow = 0;
  paced.forEach((l, i) => {
    const sent = sentAt[i] as number;
    const at = watch.reachedAt(l.key, l.sequence, sent);
    if (at !== undefined && at - sent <= overMs) return;
    slow += 1;
    const window = Math.floor((sent - start) / 500);
    perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
  });
  const windows = Math.ceil(((sentAt.at(-1) ?? start) - start + 1) / 500);
  if (slow === 0) return `none over ${overMs} ms`;
  const [worstAt, worst] = [...perWindow].reduce((a, b) => (b[1] > a[1] ? b : a));
  return (
    `${slow} over ${overMs} ms, sent in ${perWindow.size} of ${windows} half-seconds; ` +
    `the worst (${fmt((worstAt * 500) / 1000, 1)} s in, ` +
    `${new Date(start + worstAt * 500).toISOString().slice(11, 22)} UTC) holds ${worst}`
  );
}

/**
 * Where a latency phase's time went, as medians in ms, for all its events and for those over the
 * p99 limit at `rate`: sent → recorded in the ledger (ingest), → the watched state recorded
 * (claim, push and outcome), → produced to the status topic (the outbox relay), → seen by the
 * bench (Kafka and the watch). Events whose ingest status was not seen are left out (counted).
 */
export function latencyStages(
  watch: StatusWatch,
  paced: Paced[],
  sentAt: number[],
  rate: number,
  state = 'SYNCED',
): string {
  const overMs = p99LimitMs(rate) ?? 1000;
  const all: number[][] = [[], [], [], []];
  const slow: number[][] = [[], [], [], []];
  paced.forEach((l, i) => {
    const sent = sentAt[i] as number;
    const arrival = watch.arrival(l.key, l.sequence, sent);
    const ingested = watch.ingested.get(l.key)?.get(l.sequence);
    if (!arrival || ingested === undefined) return;
    const [, seenAt, recordedAt, producedAt] = arrival;
    const stages = [
      ingested - sent,
      recordedAt - ingested,
      producedAt - recordedAt,
      seenAt - producedAt,
    ];
    if (stages.some((v) => !Number.isFinite(v))) return;
    for (const into of seenAt - sent > overMs ? [all, slow] : [all])
      stages.forEach((v, k) => into[k]?.push(v));
  });
  const line = (stages: number[][]) => `${stages.map((v) => fmt(median(v))).join(' / ')} ms`;
  if (!all[0]?.length) return 'stages not known (no ingest statuses seen)';
  return (
    `sent → ingested / → ${state} recorded / → published / → seen, medians: ` +
    `all (${fmt(all[0].length)} of ${fmt(paced.length)}) ${line(all)}` +
    (slow[0]?.length ? `; the ${fmt(slow[0].length)} of them over ${overMs} ms ${line(slow)}` : '')
  );
}

/**
 * Event → watched-state times of offered records, sorted, once every one has reached it;
 * undefined if `seconds` pass first.
 */
export async function offeredTimes(
  watch: StatusWatch,
  paced: Paced[],
  sentAt: number[],
  seconds: number,
): Promise<number[] | undefined> {
  // Each poll stops at the first record not there yet; the times are sorted once, at the end.
  const all = () =>
    Promise.resolve(
      paced.every((l, i) => watch.reachedAt(l.key, l.sequence, sentAt[i] as number) !== undefined),
    );
  if (!(await waitFor(all, seconds))) return undefined;
  return reachedTimes(watch, paced, sentAt);
}

/** Sends records as fast as the broker takes them, 1,000 per request. */
export async function produceAll(producer: Producer, topic: string, load: Paced[]): Promise<void> {
  for (let i = 0; i < load.length; i += 1000)
    await producer.send({
      topic,
      acks: -1,
      messages: load.slice(i, i + 1000).map((l) => l.record),
    });
}

/** Offers records at `rate` per second (sent every 20 ms); returns when each was sent. */
export async function producePaced(
  producer: Producer,
  topic: string,
  load: Paced[],
  rate: number,
): Promise<number[]> {
  const sentAt: number[] = [];
  const start = Date.now();
  for (let i = 0; i < load.length;) {
    const due = Math.min(load.length, Math.floor(((Date.now() - start) / 1000) * rate) + 1);
    if (due > i) {
      const slice = load.slice(i, due);
      const now = Date.now();
      await producer.send({ topic, acks: -1, messages: slice.map((l) => l.record) });
      slice.forEach(() => sentAt.push(now));
      i = due;
    }
    await sleep(20);
  }
  return sentAt;
}

export async function sqlCount(db: Client, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0);
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** One event as the ledger stores it, for the database's ceiling. */
export interface CeilingRow {
  source: string;
  id: string;
  entityType: string;
  key: string;
  commune: string;
  target: string;
  sequence: number;
  kind: 'snapshot' | 'part';
  /** The part's key (parts only). */
  part: string;
  json: string;
  fp: string;
}

/** JSON texts as one JSON array, the way the services pass a JSON column (jsonList in libs/persistence). */
const jsonTexts = (texts: string[]) => `[${texts.join(',')}]`;

/**
 * The database's ceiling: the same rows written straight into a ledger schema (made by the sync
 * service's own migrations) — dedupe insert, the latest snapshot per entity, new parts — in
 * batches of `batch` events per transaction, entities spread over `connections` connections (an
 * entity's events stay in one, in order), no Kafka, no validation. Events per second.
 */
export async function databaseCeiling(
  databaseUrl: string,
  schema: string,
  rows: CeilingRow[],
  o: { connections: number; batch: number },
): Promise<number> {
  const lanes: CeilingRow[][] = Array.from({ length: o.connections }, () => []);
  const laneOf = new Map<string, number>();
  for (const r of rows) {
    const entity = `${r.entityType}\u0000${r.key}`;
    if (!laneOf.has(entity)) laneOf.set(entity, laneOf.size % o.connections);
    lanes[laneOf.get(entity) as number]?.push(r);
  }
  const clients = await Promise.all(
    lanes.map(async () => {
      const c = new PgClient({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`set search_path to "${schema}"`);
      return c;
    }),
  );
  const started = Date.now();
  await Promise.all(
    lanes.map(async (lane, n) => {
      const c = clients[n] as Client;
      for (let i = 0; i < lane.length; i += o.batch) {
        const batch = lane.slice(i, i + o.batch);
        const latest = new Map<string, CeilingRow>();
        for (const r of batch) {
          const entity = `${r.entityType}\u0000${r.key}`;
          if (r.kind === 'snapshot' && (latest.get(entity)?.sequence ?? -1) < r.sequence)
            latest.set(entity, r);
        }
        const heads = [...latest.values()];
        const parts = batch.filter((r) => r.kind === 'part');
        const col = <K extends keyof CeilingRow>(list: CeilingRow[], k: K) => list.map((r) => r[k]);
        await c.query('begin');
        await c.query(
          `insert into processed_event (source, event_id, fingerprint)
           select * from unnest($1::text[], $2::text[], $3::text[]) on conflict do nothing`,
          [col(batch, 'source'), col(batch, 'id'), col(batch, 'fp')],
        );
        await c.query(
          `insert into sync_entity as e (entity_type, entity_key, commune_code, target, source_sequence, desired, desired_fingerprint, state)
           select t, k, c, g, s, d, f, 'PENDING'
           from rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]),
             jsonb_array_elements($6::jsonb), unnest($7::text[])) as x(t, k, c, g, s, d, f)
           on conflict (entity_type, entity_key) do update set source_sequence = excluded.source_sequence,
             desired = excluded.desired, desired_fingerprint = excluded.desired_fingerprint, state = 'PENDING'
           where excluded.source_sequence > e.source_sequence`,
          [
            col(heads, 'entityType'),
            col(heads, 'key'),
            col(heads, 'commune'),
            col(heads, 'target'),
            col(heads, 'sequence'),
            jsonTexts(col(heads, 'json')),
            col(heads, 'fp'),
          ],
        );
        await c.query(
          `insert into sync_entity_part (entity_type, entity_key, part_key, source_sequence, payload, commune_code)
           select * from rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::bigint[]),
             jsonb_array_elements($5::jsonb), unnest($6::text[]))
           on conflict do nothing`,
          [
            col(parts, 'entityType'),
            col(parts, 'key'),
            col(parts, 'part'),
            col(parts, 'sequence'),
            jsonTexts(col(parts, 'json')),
            col(parts, 'commune'),
          ],
        );
        await c.query('commit');
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return rows.length / seconds;
}

/** A service's Node flags and environment, as the launchers apply them. */
export function runtimeLine(entry: string): string {
  const { nodeArgs, env } = serviceRuntime(entry);
  return [...nodeArgs, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ') || 'no flags';
}

/** The machine and the versions a run measured. */
export function versions(databaseVersion: string): string {
  const pkg = (name: string) =>
    (
      JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  // The version deploy/local fetches and runs.
  const config = readFileSync(join(root, 'deploy/local/config.ts'), 'utf8');
  const kafka = /KAFKA_VERSION = '([^']+)'/.exec(config)?.[1] ?? '?';
  return `${machine()}, Kafka ${kafka}, ${databaseVersion}, kafkajs ${pkg('kafkajs')}, pg ${pkg('pg')}, typeorm ${pkg('typeorm')}, @nestjs/core ${pkg('@nestjs/core')}`;
}

/** PostgreSQL's version string, for `versions`. */
export async function postgresVersion(databaseUrl: string): Promise<string> {
  const db = new PgClient({ connectionString: databaseUrl });
  await db.connect();
  try {
    const v = (await db.query<{ v: string }>(`select current_setting('server_version') v`)).rows[0]
      ?.v;
    const socket = new URL(databaseUrl).searchParams.get('host');
    return `PostgreSQL ${v ?? '?'}${socket ? ` over its Unix socket (${socket})` : ''}`;
  } finally {
    await db.end();
  }
}

/** Replaces the block between `<!-- bench:<name> results begin/end -->` in RESULTS.md with `text`. */
export function writeResults(name: string, text: string): void {
  const begin = `<!-- bench:${name} results begin -->`;
  const end = `<!-- bench:${name} results end -->`;
  const file = join(root, 'test/bench/RESULTS.md');
  const current = readFileSync(file, 'utf8');
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  if (from < 0 || to < from) throw new Error(`RESULTS.md lacks the markers ${begin} … ${end}`);
  writeFileSync(
    file,
    `${current.slice(0, from + begin.length)}\n\n${text}\n\n${current.slice(to)}`,
  );
  // The repository's format check covers this file: its tables are aligned as prettier does.
  execFileSync(join(root, 'node_modules/.bin/prettier'), ['--write', file], { stdio: 'ignore' });
}

/** What the services' PostgreSQL and Node runtimes read from the environment. */
const RUNTIME_VAR = /^(PG[A-Z]+|NODE_OPTIONS|UV_THREADPOOL_SIZE|MALLOC_[A-Z_]+)$/;

/**
 * The command that reproduces a run: the knobs with the values the bench used, then every other
 * BENCH_* knob set and every service or runtime variable set in its environment (e.g.
 * DISPATCH_CONCURRENCY=32), so a run under other settings never prints as a default one.
 */
export function commandLine(script: string, knobs: Record<string, string | number>): string {
  // The services' settings, declared once in @lienthong/sync-service: the bench passes its
  // environment on to every process it starts, under what it sets itself.
  const serviceVars = new Set([
    ...Object.keys(syncServiceVars({ service: 'bench', port: 0, topic: 'bench' })),
    ...['DVCQG', 'CIVIL', 'LAND'].flatMap((prefix) => Object.keys(portalVars(prefix))),
  ]);
  const shown = Object.entries(knobs).map(([k, v]) => `${k}=${v}`);
  const rest = Object.entries(process.env)
    .filter(
      ([k, v]) =>
        v !== undefined &&
        !(k in knobs) &&
        k !== 'BENCH_WRITE_RESULTS' &&
        (k.startsWith('BENCH_') || serviceVars.has(k) || RUNTIME_VAR.test(k)),
    )
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${/^[\w.,:/=+-]*$/.test(v as string) ? v : `'${v}'`}`);
  return `${[...shown, ...rest].join(' ')} npm run ${script}`;
}

/** A numeric knob from the environment. */
export const knob = (name: string, def: number) => Number(process.env[name] ?? def);

/** A comma-separated numeric knob from the environment (empty: none). */
export const knobList = (name: string, def: string) =>
  (process.env[name] ?? def).split(',').filter(Boolean).map(Number);

/** Sets (or, with `{}`, clears) a portal-sim API's fault profile: `{ down: true }` is an outage. */
export async function setPortalFaults(
  simUrl: string,
  api: string,
  adminToken: string,
  profile: object,
): Promise<void> {
  const r = await fetch(`${simUrl}/admin/faults/${api}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify(profile),
  });
  if (!r.ok) throw new Error(`portal-sim faults: HTTP ${r.status}`);
}

/**
 * The records of `topic` a service has committed into its ledger schema: the sum of its stored
 * consumer offsets (TransactionalConsumer stores them in the transaction that writes the ledger,
 * and a bench's topics are fresh, so offsets start at 0). One row per partition: unlike a
 * `count(*)` of processed_event (4.6 ms at 50,000 rows, 10 times a second), polling it costs the
 * database it measures nothing worth noting.
 */
export function committedRecords(db: Client, schema: string, topic: string): Promise<number> {
  return sqlCount(
    db,
    `select coalesce(sum(next_offset), 0) n from "${schema}".consumer_offset where topic = $1`,
    [topic],
  );
}

/**
 * The sustained ingest rate, in events/s: from the first record committed (when `onFirst` runs:
 * start the CPU account there) until `committed()` (e.g. committedRecords) reaches `total`.
 * Throws if that takes more than `seconds`. `first`: when the first commit was seen.
 */
export async function measureIngest(
  committed: () => Promise<number>,
  total: number,
  seconds: number,
  onFirst: () => void,
): Promise<{ rate: number; first: number }> {
  let first: [number, number] | undefined;
  const allIn = await waitFor(async () => {
    const n = await committed();
    if (!first && n > 0) {
      first = [Date.now(), n];
      onFirst();
    }
    return n >= total;
  }, seconds);
  if (!allIn || !first) throw new Error(`ingest did not finish in ${seconds} s`);
  return { rate: (total - first[1]) / ((Date.now() - first[0]) / 1000), first: first[0] };
}

/**
 * A sync service's event-loop meter: `lienthong_event_loop_busy_seconds_total` read at the start
 * and at the end of a phase, as the share of the phase's wall time its one thread was busy (near
 * 1: the service itself sets the pace).
 */
export function loopMeter(metricsUrl: string): {
  start(): void;
  stop(): Promise<number | undefined>;
} {
  const read = async (): Promise<[number, number] | undefined> => {
    const text = await (await fetch(metricsUrl)).text().catch(() => '');
    const line = text
      .split('\n')
      .find((l) => l.startsWith('lienthong_event_loop_busy_seconds_total'));
    return line ? [Date.now(), Number(line.split(' ').pop())] : undefined;
  };
  let started: Promise<[number, number] | undefined> | undefined;
  return {
    start() {
      started = read().catch(() => undefined);
    },
    async stop() {
      const [from, to] = [await started, await read().catch(() => undefined)];
      if (!from || !to || to[0] <= from[0]) return undefined;
      return (to[1] - from[1]) / ((to[0] - from[0]) / 1000);
    },
  };
}

/** The knobs every sync-service bench reads (see RESULTS.md); `events`: BENCH_EVENTS' default. */
export function syncBenchKnobs(events: number) {
  return {
    EVENTS: knob('BENCH_EVENTS', events),
    RATES: knobList('BENCH_RATES', '500,1000'),
    LATENCY_SECONDS: knob('BENCH_LATENCY_SECONDS', 20),
    OUTAGE_SECONDS: knob('BENCH_OUTAGE_SECONDS', 60),
    OUTAGE_RATE: knob('BENCH_OUTAGE_RATE', 200),
    RUNS: knob('BENCH_RUNS', 1),
    PORTAL_CONCURRENCY: knob('BENCH_PORTAL_CONCURRENCY', 32),
    PORTAL_SECONDS: knob('BENCH_PORTAL_SECONDS', 15),
    CEILING_BATCH: knob('BENCH_CEILING_BATCH', 500),
  };
}

/** A load generator's calls to one portal: JSON in, JSON out. */
export interface LoadClient {
  /** POSTs `body` (an object: as JSON; a string: as it is, with the caller's content type). */
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * The load generators' HTTP client: `connections` keep-alive connections to the portal through
 * undici's Pool, the library Lienthong's portal clients use. It was the global `fetch`, which cost
 * the generating process 174–280 µs of CPU a call on this machine against 34–41 µs here (32
 * callers against a plain Node server on loopback): at portal-sim's "limit" the generator then
 * kept more of the cores busy than portal-sim did, and set the limit itself.
 */
export function loadClient(baseUrl: string, connections: number): LoadClient {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/$/, '');
  const pool = new HttpPool(url.origin, { connections });
  return {
    async post(path, body, headers = {}) {
      const res = await pool.request({
        path: `${prefix}${path}`,
        method: 'POST',
        headers:
          typeof body === 'string' ? headers : { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    },
    close: () => pool.close(),
  };
}

/**
 * A closed-loop load generator: `concurrency` callers each run `unit` (one dossier's or one
 * registration's calls; it returns how many) back to back for `seconds` after a one-second
 * warm-up. Units and calls per second within the window, and where the CPU went in that same
 * window when given an account.
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  unit: () => Promise<number>,
  account?: CpuAccount,
): Promise<{ perSecond: number; callsPerSecond: number; cpu: Record<string, number> }> {
  const warmUntil = Date.now() + 1000;
  const end = warmUntil + seconds * 1000;
  let units = 0;
  let calls = 0;
  // Started when the window opens (the warm-up is a second, so this fires before any caller
  // stops); stopped when the last caller is done, at most one unit after the window closes.
  if (account) setTimeout(() => account.start(), warmUntil - Date.now());
  const caller = async () => {
    while (Date.now() < end) {
      const n = await unit();
      if (Date.now() >= warmUntil && Date.now() < end) {
        units += 1;
        calls += n;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const cpu = account ? account.stop() : {};
  return { perSecond: units / seconds, callsPerSecond: calls / seconds, cpu };
}

/** A sync service's environment in a bench: its own schema, port, copies of the topics, quiet logs. */
export function syncServiceEnv(o: {
  databaseUrl: string;
  schema: string;
  port: number;
  topic: string;
  statusTopic: string;
  statusV2Topic: string;
}): Record<string, string> {
  return {
    PORT: String(o.port),
    DATABASE_URL: o.databaseUrl,
    DB_SCHEMA: o.schema,
    EVENTS_TOPIC: o.topic,
    SYNC_STATUS_TOPIC: o.statusTopic,
    SYNC_STATUS_V2_TOPIC: o.statusV2Topic,
    KAFKA_GROUP_ID: `${o.topic}.${o.schema}`,
    LOG_LEVEL: SERVICE_LOG_LEVEL,
  };
}

/** The CPU account of a sync bench: the service, portal-sim, PostgreSQL, Kafka and the bench itself. */
export function syncCpuAccount(
  service: string,
  servicePids: () => Array<number | undefined>,
  simPid: () => number | undefined,
): CpuAccount {
  return new CpuAccount({
    [service]: () => servicePids().map((pid) => pid ?? 0),
    'portal-sim': () => [simPid() ?? 0],
    PostgreSQL: () => pidsMatching(/^postgres[: ]/),
    Kafka: () => pidsMatching(/kafka\.Kafka/),
    'bench (producer, watcher)': () => [process.pid],
  });
}

/** The account of a portal's limit: the same parties, the service not running, this portal-sim. */
export function limitCpuAccount(service: string, simPid: number | undefined): CpuAccount {
  return syncCpuAccount(
    service,
    () => [],
    () => simPid,
  );
}

/** A goal of #14 for one figure: its text in the table and whether a value meets it. */
export interface Goal {
  text: string;
  met: (v: number) => boolean;
}

/**
 * A results-table row: the median of the runs' values, each run's value, the goal ('measured'
 * without one: neither met nor missed) and its verdict on the median. Infinity (a latency phase's
 * record not there within its wait) is shown as `unreached`.
 */
export function figureRow(
  name: string,
  values: number[],
  o: { goal?: Goal; digits?: number; unreached?: string } = {},
): string {
  const show = (v: number) =>
    v === Infinity && o.unreached !== undefined ? o.unreached : fmt(v, o.digits ?? 0);
  const mid = median(values);
  const verdict = o.goal ? (o.goal.met(mid) ? 'met' : 'NOT met') : '';
  return `| ${name} | ${show(mid)} | ${values.map(show).join(' / ')} | ${o.goal?.text ?? 'measured'} | ${verdict} |`;
}

const goal = (text: string, met: (v: number) => boolean): Goal => ({ text, met });

/** #14's ingest goal, events per second. */
const INGEST_GOAL_PER_SECOND = 15_000;

/** #14's goals, the same for every sync service. */
export const GOALS = {
  ingest: goal(`≥ ${fmt(INGEST_GOAL_PER_SECOND)}`, (v) => v >= INGEST_GOAL_PER_SECOND),
  ingestVsDatabase: goal('≥ 0.5', (v) => v >= 0.5),
  endToEndVsPortal: goal('≥ 0.70', (v) => v >= 0.7),
  rssMiB: goal('≤ 300', (v) => v <= 300),
  /** p99 ≤ 250 ms at 500 events/s offered, ≤ 1 s at 1,000; none above. */
  p99AtRate(rate: number): Goal | undefined {
    const ms = p99LimitMs(rate);
    return ms === undefined ? undefined : goal(`≤ ${fmt(ms)}`, (v) => v <= ms);
  },
  /** A 600 s outage's backlog drains within 60 s; other outage lengths are only measured. */
  drain(outageSeconds: number): Goal | undefined {
    return outageSeconds === 600 ? goal('≤ 60', (v) => v <= 60) : undefined;
  },
};

/** The share of all cores the processes of one account kept busy together. */
function cpuTotal(cpu: Record<string, number>): number {
  return Object.values(cpu).reduce((a, b) => a + b, 0);
}

/** A run's CPU accounts by phase (shares of all cores per process), as both dossier and registry benches keep them. */
export interface PhaseCpu {
  cpu: Record<string, number>;
  cpuPush: Record<string, number>;
  cpuPortal: Record<string, number>;
  latency: Array<{ rate: number; cpu: Record<string, number> }>;
}

/**
 * The CPU table (median share of all cores per process: ingest, the pushes after it, each offered
 * rate, the portal's limit, whose column is `limitLabel`) and, per offered rate, how busy the
 * cores were in each run: at high utilisation any burst of work delays what arrives behind it,
 * which is what a tail latency shows.
 */
export function phaseCpuLines(runs: PhaseCpu[], rates: number[], limitLabel: string): string[] {
  const offered = (rate: number) =>
    runs.map((r) => r.latency.find((l) => l.rate === rate)?.cpu ?? {});
  const busy = (rate: number) =>
    offered(rate)
      .map((cpu) => `${fmt(100 * cpuTotal(cpu))} %`)
      .join(' / ');
  return [
    `| process | ingest | pushes after ingest | ${rates.map((r) => `at ${fmt(r)} events/s | `).join('')}${limitLabel} |`,
    `| --- | ---: | ---: | ${rates.map(() => '---: | ').join('')}---: |`,
    ...cpuRows([
      runs.map((r) => r.cpu),
      runs.map((r) => r.cpuPush),
      ...rates.map(offered),
      runs.map((r) => r.cpuPortal),
    ]),
    '',
    ...rates.map(
      (rate) =>
        `At ${fmt(rate)} events/s offered, the processes above kept ${busy(rate)} of all cores busy (each run): the nearer 100 %, the longer any burst of work (an upkeep round, a collection) holds up what arrives behind it.`,
    ),
  ];
}

/** Rows of the CPU table: per process, the median share of all cores in each phase's accounts. */
function cpuRows(phases: Array<Array<Record<string, number>>>): string[] {
  return Object.keys(phases[0]?.[0] ?? {}).map(
    (k) =>
      `| ${k} | ${phases.map((runs) => `${(median(runs.map((r) => r[k] ?? 0)) * 100).toFixed(0)} %`).join(' | ')} |`,
  );
}

/**
 * CPU time per unit of work, per process and in all, from each run's shares of all cores during a
 * phase and the phase's rate: what a unit costs the machine, which a rate on a shared, noisy
 * machine hides. `scale` turns seconds into the unit printed (1e6: µs, 1e3: ms).
 */
export function cpuPerUnitLine(
  what: string,
  runs: Array<{ cpu: Record<string, number>; rate: number }>,
  scale: number,
  digits = 0,
): string {
  const per = (r: { cpu: Record<string, number>; rate: number }, share: number) =>
    fmt((share * cpus().length * scale) / r.rate, digits);
  const names = Object.keys(runs[0]?.cpu ?? {});
  const parts = names.map((k) => `${k} ${runs.map((r) => per(r, r.cpu[k] ?? 0)).join(' / ')}`);
  const all = runs.map((r) => per(r, cpuTotal(r.cpu))).join(' / ');
  return `${what} (each run): ${parts.join('; ')}; all together ${all}.`;
}

/** CPU time per ingested event during ingest, µs (cpuPerUnitLine). */
export function cpuPerEventLine(
  runs: Array<{ cpu: Record<string, number>; ingest: number }>,
): string {
  return cpuPerUnitLine(
    'CPU per ingested event during ingest, µs',
    runs.map((r) => ({ cpu: r.cpu, rate: r.ingest })),
    1e6,
  );
}

/** One run's inputs to `machineBoundLines`: CPU shares of all cores per process (CpuAccount). */
export interface BoundInputs {
  /** During ingest, with the portal down (BENCH_INGEST_ALONE=1): ingest's CPU alone. */
  cpu: Record<string, number>;
  /** While the load generator measured the portal's limit. */
  cpuPortal: Record<string, number>;
  ingest: number;
  databaseCeiling: number;
  /** The portal's limit, units (dossiers, registrations) per second. */
  portalPerSecond: number;
  /** Events per unit in the ingested workload. */
  eventsPerUnit: number;
}

/**
 * What this machine allows, from one run's CPU shares: two upper bounds, assuming every process
 * keeps the CPU per event (or per unit) it was measured at.
 * - Ingest, were the sync service free: PostgreSQL and Kafka alone would fill every core at
 *   ingest ÷ (their share of all cores during ingest).
 * - End to end ÷ the portal's limit R, were every push free on Lienthong's side: at its limit,
 *   portal-sim and PostgreSQL used `u` of all cores; ingesting one unit's events costs the service,
 *   PostgreSQL and Kafka `s` of all cores during ingest ÷ (ingest ÷ events per unit), so at R units
 *   per second they would need s·R·e ÷ ingest of the cores. Both share these cores: the ratio is at
 *   most 1 ÷ (u + s·R·e ÷ ingest). Loose on purpose (pushes, the watcher and the producer are left
 *   out), so a goal above it cannot be met here whatever the service does.
 * And what the ingest goal leaves the service: the CPU per event the cores have at that rate, less
 * PostgreSQL's and Kafka's, against what it spent.
 */
export function machineBounds(service: string, b: BoundInputs) {
  const share = (c: Record<string, number>, k: string) => c[k] ?? 0;
  const storage = share(b.cpu, 'PostgreSQL') + share(b.cpu, 'Kafka');
  const ingestCap = b.ingest / storage;
  const portal = share(b.cpuPortal, 'portal-sim') + share(b.cpuPortal, 'PostgreSQL');
  const ingestAtLimit =
    ((share(b.cpu, service) + storage) * b.portalPerSecond * b.eventsPerUnit) / b.ingest;
  const cores = cpus().length;
  const perEventUs = (sh: number) => (sh * cores * 1e6) / b.ingest;
  const perEventBudgetUs = (cores * 1e6) / INGEST_GOAL_PER_SECOND;
  return {
    ingestCap,
    ingestCapVsCeiling: ingestCap / b.databaseCeiling,
    serviceUs: perEventUs(share(b.cpu, service)),
    perEventBudgetUs,
    storageUs: perEventUs(storage),
    serviceBudgetUs: perEventBudgetUs - perEventUs(storage),
    portal,
    ingestAtLimit,
    endToEndCap: 1 / (portal + ingestAtLimit),
  };
}

/**
 * The report's "what two cores allow" lines (see machineBounds), each run's figures; only runs
 * with BENCH_INGEST_ALONE=1 measure ingest's CPU alone, so the others say how to get them.
 */
export function machineBoundLines(
  service: string,
  unit: string,
  runs: BoundInputs[],
  ingestAlone: boolean,
): string[] {
  if (!ingestAlone)
    return [
      `What ${cpus().length} cores allow: printed by runs with \`BENCH_INGEST_ALONE=1\` (ingest's CPU is then ingest's alone).`,
    ];
  const bounds = runs.map((r) => machineBounds(service, r));
  const each = (pick: (b: ReturnType<typeof machineBounds>) => string) =>
    bounds.map(pick).join(' / ');
  const pct = (v: number) => `${fmt(100 * v)} %`;
  const verdict = (values: number[], goal: Goal) =>
    values.some((v) => goal.met(v)) ? 'not excluded' : 'out of reach here';
  const verdicts = new Set([
    verdict(
      bounds.map((b) => b.ingestCap),
      GOALS.ingest,
    ),
    verdict(
      bounds.map((b) => b.ingestCapVsCeiling),
      GOALS.ingestVsDatabase,
    ),
  ]);
  const ingestVerdict = [...verdicts].join(' / ');
  const perEventBudgetUs = bounds[0]?.perEventBudgetUs ?? 0;
  return [
    `What ${cpus().length} cores allow (upper bounds from the CPU shares measured in the same run, each run; each process kept at its measured CPU per event):`,
    '',
    `- ingest, were ${service} free: PostgreSQL and Kafka alone fill the cores at ${each((b) => fmt(b.ingestCap))} events/s, ${each((b) => fmt(b.ingestCapVsCeiling, 2))} of the database limit: the goals (${GOALS.ingest.text}, ${GOALS.ingestVsDatabase.text}) are ${ingestVerdict}; at ${fmt(INGEST_GOAL_PER_SECOND)} events/s the cores have ${fmt(perEventBudgetUs)} µs of CPU per event; PostgreSQL and Kafka spent ${each((b) => fmt(b.storageUs))}, which leaves ${service} ${each((b) => fmt(Math.max(0, b.serviceBudgetUs)))}, and it spent ${each((b) => fmt(b.serviceUs))};`,
    `- end to end / portal-sim capacity, were every push free on Lienthong's side: at its limit portal-sim and PostgreSQL used ${each((b) => pct(b.portal))} of the cores, and ingesting ${unit} at that rate takes ${service}, PostgreSQL and Kafka ${each((b) => pct(b.ingestAtLimit))} of them, so at most ${each((b) => fmt(b.endToEndCap, 2))}: the goal (${GOALS.endToEndVsPortal.text}) is ${verdict(
      bounds.map((b) => b.endToEndCap),
      GOALS.endToEndVsPortal,
    )}.`,
  ];
}

/** The portal's limit row: units (dossiers, registrations) per second and, beside the median, calls per second. */
export function portalLimitRow(
  unit: string,
  perSecond: number[],
  callsPerSecond: number[],
): string {
  return `| limit: portal-sim, plain load generator, ${unit}/s (calls/s) | ${fmt(median(perSecond), 1)} (${fmt(median(callsPerSecond))}) | ${perSecond.map((v) => fmt(v, 1)).join(' / ')} | measured | |`;
}
