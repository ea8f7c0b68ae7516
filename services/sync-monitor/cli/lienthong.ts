// `npm run cli -- <command>`: the operators' command line. It talks to sync-monitor's ops API
// (never to a database), with the same sign-in and the same roles as the dashboard.
//
//   login --user hue                 sign in (password on stdin or LIENTHONG_PASSWORD); keeps the token
//   status [--domain d] [--province p]
//                                    every commune's sync: entities, synced, backlog, oldest waiting change
//   reconcile --domain d [--communes c1,c2] [--repair] --reason "…" [--no-wait]
//                                    starts a reconciliation and follows it with a progress bar
//   resync [--domain d] --communes c1,c2 [--keys k1,k2] --reason "…"
//                                    pushes a scope again in full; waits for the services' answers
//   pause|resume [--domain d] --communes c1,c2 --reason "…"
//                                    stops (or restarts) pushing these communes' changes
//   dlq list                         dead letters grouped by cause
//   dlq replay <signature> --reason "…"
//                                    sends a group back to its topic (after fixing its cause) and waits for the answer
//   commands                         the audit log with the services' answers
//
// The API is LIENTHONG_URL (default http://127.0.0.1:8095); the token is kept in
// $XDG_CONFIG_HOME/lienthong/token.json (mode 600), or given as LIENTHONG_TOKEN.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';

const api = (process.env.LIENTHONG_URL ?? 'http://127.0.0.1:8095').replace(/\/$/, '');
const tokenFile = join(
  process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'),
  'lienthong',
  'token.json',
);

class CliError extends Error {}

/** What the CLI prints for the operator (stdout: results; errors go to stderr). */
const say = (text: string) => process.stdout.write(`${text}\n`);

function token(): string {
  if (process.env.LIENTHONG_TOKEN) return process.env.LIENTHONG_TOKEN;
  try {
    return (JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string }).token;
  } catch {
    throw new CliError('not signed in: npm run cli -- login --user <name>');
  }
}

/** Calls the ops API; a problem+json answer becomes an error naming its status and detail. */
async function call<T>(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  auth = true,
): Promise<T> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${token()}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).catch((err: unknown) => {
    throw new CliError(`cannot reach ${api}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const text = await res.text();
  const parsed = (text ? JSON.parse(text) : {}) as T & { detail?: string; title?: string };
  if (!res.ok)
    throw new CliError(`${res.status} ${parsed.title ?? ''}: ${parsed.detail ?? text}`.trim());
  return parsed;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** A table of rows, columns padded to their widest cell. */
function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

const age = (iso: string | null) => {
  if (!iso) return '—';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 90
    ? `${Math.round(s)} s`
    : s < 5400
      ? `${Math.round(s / 60)} min`
      : `${(s / 3600).toFixed(1)} h`;
};

interface Answer {
  service: string;
  outcome: string;
  detail: string;
  /** A reconcile command's run. */
  runId: string | null;
}

/** Waits for the services' answers to a command (each service it concerns answers once). */
async function answers(commandId: string, timeoutMs = 60_000): Promise<Answer[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { commands } = await call<{ commands: Array<{ commandId: string; answers: Answer[] }> }>(
      'GET',
      '/api/commands',
    );
    const found = commands.find((c) => c.commandId === commandId)?.answers ?? [];
    if (found.length > 0) return found;
    if (Date.now() > deadline) throw new CliError(`no answer to command ${commandId} yet`);
    await sleep(500);
  }
}

async function login(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { user: { type: 'string' } } });
  if (!values.user) throw new CliError('login --user <name>');
  const password = process.env.LIENTHONG_PASSWORD ?? (await readStdin());
  const session = await call<{ token: string; role: { kind: string; provinces: unknown } }>(
    'POST',
    '/api/session',
    { username: values.user, password },
    false,
  );
  mkdirSync(dirname(tokenFile), { recursive: true });
  writeFileSync(tokenFile, JSON.stringify({ token: session.token }), { mode: 0o600 });
  say(
    `signed in as ${values.user} (${session.role.kind}, provinces ${JSON.stringify(session.role.provinces)})`,
  );
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { domain: { type: 'string' }, province: { type: 'string' } },
  });
  const q = new URLSearchParams();
  if (values.domain) q.set('domain', values.domain);
  if (values.province) q.set('province', values.province);
  const { communes } = await call<{
    communes: Array<{
      provinceCode: string;
      communeCode: string;
      domain: string;
      entities: number;
      synced: number;
      backlog: Record<string, number>;
      oldestUnsyncedAt: string | null;
      driftOpen: number;
      deadLetters: number;
    }>;
  }>('GET', `/api/communes${q.size > 0 ? `?${q.toString()}` : ''}`);
  say(
    table(
      [
        'province',
        'commune',
        'domain',
        'entities',
        'synced',
        'backlog',
        'oldest waiting',
        'drift',
        'dead letters',
      ],
      communes.map((c) => [
        c.provinceCode,
        c.communeCode,
        c.domain,
        c.entities,
        c.synced,
        Object.values(c.backlog).reduce((a, b) => a + b, 0),
        age(c.oldestUnsyncedAt),
        c.driftOpen,
        c.deadLetters,
      ]),
    ),
  );
}

async function reconcile(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      domain: { type: 'string' },
      communes: { type: 'string' },
      repair: { type: 'boolean', default: false },
      reason: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
    },
  });
  const communeCodes = list(values.communes);
  const { commandId } = await call<{ commandId: string }>('POST', '/api/commands/reconcile', {
    scope: {
      ...(values.domain ? { domain: values.domain } : {}),
      ...(communeCodes?.length ? { communeCodes } : {}),
    },
    dryRun: !values.repair,
    reason: values.reason ?? '',
  });
  say(`reconciliation requested: command ${commandId} (${values.repair ? 'repair' : 'dry run'})`);
  if (values['no-wait']) return;
  const accepted = await answers(commandId);
  for (const a of accepted) say(`${a.service}: ${a.outcome} — ${a.detail}`);
  const runIds = accepted.flatMap((a) => (a.runId ? [a.runId] : []));
  for (const runId of runIds) {
    const bar = new SingleBar({
      format: `${runId.slice(0, 8)} [{bar}] {value}/{total} checked · {drifted} differ · {rate}/s · ETA {eta_formatted}`,
      hideCursor: true,
    });
    let started = false;
    for (;;) {
      const { runs } = await call<{
        runs: Array<{
          id: string;
          status: string;
          total: number;
          checked: number;
          missing: number;
          drifted: number;
          repaired: number;
          rate: number;
        }>;
      }>('GET', '/api/reconcile-runs');
      const run = runs.find((r) => r.id === runId);
      if (run) {
        const payload = { drifted: run.missing + run.drifted, rate: run.rate };
        if (!started) bar.start(run.total, run.checked, payload);
        else bar.update(run.checked, payload);
        started = true;
        if (run.status === 'finished' || run.status === 'cancelled') {
          bar.stop();
          say(
            `${run.status}: ${run.checked} of ${run.total} checked, ${run.missing} missing, ${run.drifted} drifted, ${run.repaired} repaired`,
          );
          break;
        }
      }
      await sleep(1000);
    }
  }
}

async function dlq(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const { groups } = await call<{
      groups: Array<{
        signature: string;
        sourceTopic: string;
        code: string;
        field: string | null;
        rule: string | null;
        open: number;
        replayed: number;
        discarded: number;
        lastFailureAt: string;
      }>;
    }>('GET', '/api/dead-letters');
    say(
      table(
        ['signature', 'topic', 'code', 'field', 'rule', 'open', 'replayed', 'discarded', 'last'],
        groups.map((g) => [
          g.signature.slice(0, 12),
          g.sourceTopic,
          g.code,
          g.field ?? '',
          g.rule ?? '',
          g.open,
          g.replayed,
          g.discarded,
          g.lastFailureAt,
        ]),
      ),
    );
    return;
  }
  if (sub === 'replay') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { reason: { type: 'string' } },
    });
    const prefix = positionals[0];
    if (!prefix) throw new CliError('dlq replay <signature> --reason "…"');
    const { groups } = await call<{ groups: Array<{ signature: string }> }>(
      'GET',
      '/api/dead-letters',
    );
    const matching = groups.filter((g) => g.signature.startsWith(prefix));
    if (matching.length !== 1)
      throw new CliError(
        `${matching.length} groups start with ${prefix}: give more of the signature`,
      );
    const { commandId, letters } = await call<{ commandId: string; letters: number }>(
      'POST',
      '/api/commands/replay-dead-letters',
      { signature: matching[0]?.signature, reason: values.reason ?? '' },
    );
    say(`replay of ${letters} dead letters requested: command ${commandId}`);
    for (const a of await answers(commandId)) say(`${a.service}: ${a.outcome} — ${a.detail}`);
    return;
  }
  throw new CliError('dlq list | dlq replay <signature> --reason "…"');
}

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((c) => c.trim())
    .filter(Boolean);

/** Sends a command that acts on communes and prints the services' answers. */
async function communeCommand(
  path: string,
  what: string,
  body: Record<string, unknown>,
): Promise<void> {
  const { commandId } = await call<{ commandId: string }>('POST', path, body);
  say(`${what} requested: command ${commandId}`);
  for (const a of await answers(commandId)) say(`${a.service}: ${a.outcome} — ${a.detail}`);
}

const communeOptions = {
  domain: { type: 'string' },
  communes: { type: 'string' },
  reason: { type: 'string' },
} as const;

async function resync(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { ...communeOptions, keys: { type: 'string' } } });
  const communeCodes = list(values.communes);
  const keys = list(values.keys);
  await communeCommand('/api/commands/resync', 're-sync', {
    scope: {
      ...(values.domain ? { domain: values.domain } : {}),
      ...(communeCodes?.length ? { communeCodes } : {}),
      ...(keys?.length ? { keys } : {}),
    },
    reason: values.reason ?? '',
  });
}

const pauseOrResume = (action: 'pause' | 'resume') => async (args: string[]) => {
  const { values } = parseArgs({ args, options: communeOptions });
  await communeCommand(`/api/commands/${action}-communes`, `${action} of communes`, {
    communeCodes: list(values.communes) ?? [],
    ...(values.domain ? { domain: values.domain } : {}),
    reason: values.reason ?? '',
  });
};

async function commands(): Promise<void> {
  const { commands: list } = await call<{
    commands: Array<{
      at: string;
      operator: string;
      action: string;
      outcome: string;
      detail: string | null;
      answers: Answer[];
    }>;
  }>('GET', '/api/commands');
  say(
    table(
      ['at', 'operator', 'action', 'outcome', 'answers'],
      list.map((c) => [
        c.at,
        c.operator,
        c.action,
        c.detail ? `${c.outcome}: ${c.detail}` : c.outcome,
        c.answers.map((a) => `${a.service} ${a.outcome}`).join(', '),
      ]),
    ),
  );
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  login,
  status,
  reconcile,
  resync,
  pause: pauseOrResume('pause'),
  resume: pauseOrResume('resume'),
  dlq,
  commands,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const run = name ? COMMANDS[name] : undefined;
  if (!run) throw new CliError(`commands: ${Object.keys(COMMANDS).join(', ')}`);
  await run(args);
}

main().catch((err: unknown) => {
  process.stderr.write(`lienthong: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof CliError ? 2 : 1);
});
