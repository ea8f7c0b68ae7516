// What every benchmark script needs: the local stack, built services as child processes, free
// ports, peak memory, percentiles and figures printed the same way.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'pg';
import { kafkaPrincipalEnv, principalOfEntry, serviceRuntime } from '@lienthong/testing';

export const root = resolve(__dirname, '..', '..');

/** Progress lines go to stderr; stdout carries only the results. */
export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export interface Stack {
  kafkaBrokers: string;
  databaseUrl: string;
  kafkaSecretsDir?: string;
}

/** Starts (or finds) the local stack: Kafka and PostgreSQL. */
export function stackUp(): Stack {
  const out = execFileSync(process.execPath, [join(root, 'deploy/local/stack.ts'), 'json'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stack = JSON.parse(out.trim().split('\n').pop() as string) as Stack;
  // The Kafka principals' password files (kafkaPrincipalEnv, testKafka read them from here).
  if (stack.kafkaSecretsDir) process.env.KAFKA_SECRETS_DIR = stack.kafkaSecretsDir;
  return stack;
}

/** Builds the Nx projects a bench runs (their dist entries). */
export function build(projects: string[]): void {
  execFileSync(
    join(root, 'node_modules/.bin/nx'),
    ['run-many', '-t', 'build', '-p', projects.join(','), '--outputStyle=static'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      server.close(() => done(typeof a === 'object' && a ? a.port : 0));
    });
  });
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
  const child = spawn(process.execPath, [...runtime.nodeArgs, ...nodeArgs, join(root, entry)], {
    cwd: root,
    env: { ...process.env, ...runtime.env, ...kafkaPrincipalEnv(principal), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
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

/** The median of some figures (NaN when there are none). */
export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
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

/** A portal-sim of its own schema on a free port (a bench's portals never share state). */
export async function startPortalSim(
  stack: Stack,
  schema: string,
  adminToken: string,
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
      LOG_LEVEL: 'warn',
    },
    { url: `http://127.0.0.1:${port}/health` },
  );
  return { child, url: `http://127.0.0.1:${port}` };
}

export interface StatementFigure {
  calls: number;
  totalMs: number;
  query: string;
}

/**
 * PostgreSQL's own account of the statements a phase ran (pg_stat_statements), when the server
 * loads the module (`shared_preload_libraries`; a bench cannot restart the server to add it).
 */
export class StatementAccount {
  private enabled = false;

  constructor(private readonly db: Client) {}

  /** Whether the server keeps the account; creates the extension in this database if so. */
  async open(): Promise<boolean> {
    const { rows } = await this.db.query<{ loaded: boolean }>(
      `select current_setting('shared_preload_libraries') like '%pg_stat_statements%' loaded`,
    );
    this.enabled = rows[0]?.loaded === true;
    if (this.enabled) await this.db.query('create extension if not exists pg_stat_statements');
    return this.enabled;
  }

  async reset(): Promise<void> {
    if (this.enabled) await this.db.query('select pg_stat_statements_reset()');
  }

  /** The statements that took the most execution time since the last reset. */
  async top(n: number): Promise<StatementFigure[]> {
    if (!this.enabled) return [];
    const { rows } = await this.db.query<{ calls: string; total: number; query: string }>(
      `select calls, total_exec_time total, query from pg_stat_statements
       where query not like '%pg_stat_statements%' order by total_exec_time desc limit $1`,
      [n],
    );
    return rows.map((r) => ({
      calls: Number(r.calls),
      totalMs: r.total,
      query: r.query
        .replace(/\s+/g, ' ')
        .replace(/"bench_[a-z0-9_]+"\./g, '')
        .slice(0, 90),
    }));
  }
}
