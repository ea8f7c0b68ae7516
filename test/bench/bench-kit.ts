// What every benchmark script needs: the local stack, built services as child processes, free
// ports, peak memory, percentiles and figures printed the same way.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaPrincipalEnv, principalOfEntry } from '@lienthong/testing';

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
): Promise<ChildProcess> {
  // A service authenticates to Kafka as itself; the baseline, a bench program, as `test`.
  const principal = principalOfEntry(entry) ?? 'test';
  const child = spawn(process.execPath, [join(root, entry)], {
    cwd: root,
    env: { ...process.env, ...kafkaPrincipalEnv(principal), ...env },
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
