// `npm start`: brings up the local stack, builds the services and runs them in the foreground
// with their logs prefixed; Ctrl-C stops the services (the stack stays up: npm run stack:down).
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths, repoRoot } from './config.ts';
import { ensureSecret } from './kafka-security.ts';
import type { StackState } from './stack.ts';

interface ServiceSpec {
  name: string;
  entry: string;
  env: Record<string, string>;
  url?: string;
}

const node = process.execPath;
const nx = join(repoRoot, 'node_modules', '.bin', 'nx');

function step(msg: string): void {
  process.stdout.write(`\n▶ ${msg}\n`);
}

step('local stack (Kafka + PostgreSQL)');
execFileSync(node, [join(repoRoot, 'deploy/local/stack.ts'), 'up'], { stdio: 'inherit' });
const state = JSON.parse(readFileSync(paths.stackState, 'utf8')) as StackState;

const port = (name: string, fallback: number): string => process.env[name] ?? String(fallback);
const portal = `http://127.0.0.1:${port('PORTAL_SIM_PORT', 8090)}`;
const landSync = `http://127.0.0.1:${port('LAND_SYNC_PORT', 8094)}`;
const monitor = `http://127.0.0.1:${port('SYNC_MONITOR_PORT', 8095)}`;
const gateway = `http://127.0.0.1:${port('INGEST_GATEWAY_PORT', 8096)}`;
// The simulators' admin endpoints (portal-sim /admin, commune-sim PUT /traffic) take this token.
const simulatorsAdminToken = ensureSecret('simulators-admin.token');
// ingest-gateway reads the full results (personal data) from the sync services with this token.
const resultsApiToken = ensureSecret('results-api.token');

const services: ServiceSpec[] = [
  {
    // The ops side: dashboard, ops API, read model of every sync (first: it is what you open).
    name: 'sync-monitor',
    entry: 'services/sync-monitor/dist/main.js',
    env: { PORT: port('SYNC_MONITOR_PORT', 8095), DATABASE_URL: state.databaseUrl },
    url: `${monitor}/`,
  },
  {
    // The national systems, simulated; the land registry calls land-sync back at each stage.
    name: 'portal-sim',
    entry: 'services/portal-sim/dist/main.js',
    env: {
      PORT: port('PORTAL_SIM_PORT', 8090),
      DATABASE_URL: state.databaseUrl,
      PORTAL_SIM_LAND_CALLBACK_URL: `${landSync}/land/callbacks`,
      PORTAL_SIM_ADMIN_TOKEN: simulatorsAdminToken,
    },
    url: `${portal}/health`,
  },
  {
    name: 'dossier-sync',
    entry: 'services/dossier-sync/dist/main.js',
    env: {
      PORT: port('DOSSIER_SYNC_PORT', 8091),
      DATABASE_URL: state.databaseUrl,
      DVCQG_BASE_URL: portal,
    },
    url: `http://127.0.0.1:${port('DOSSIER_SYNC_PORT', 8091)}/metrics`,
  },
  {
    name: 'civil-status-sync',
    entry: 'services/civil-status-sync/dist/main.js',
    env: {
      PORT: port('CIVIL_STATUS_SYNC_PORT', 8093),
      DATABASE_URL: state.databaseUrl,
      CIVIL_BASE_URL: portal,
      RESULTS_API_TOKEN: resultsApiToken,
    },
    url: `http://127.0.0.1:${port('CIVIL_STATUS_SYNC_PORT', 8093)}/metrics`,
  },
  {
    name: 'land-sync',
    entry: 'services/land-sync/dist/main.js',
    env: {
      PORT: port('LAND_SYNC_PORT', 8094),
      DATABASE_URL: state.databaseUrl,
      LAND_BASE_URL: portal,
      RESULTS_API_TOKEN: resultsApiToken,
    },
    url: `${landSync}/metrics`,
  },
  {
    // The commune systems' way in: CloudEvents over HTTP with an OAuth2 token per commune
    // (portal-sim plays the identity provider), checked and on Kafka before 202.
    name: 'ingest-gateway',
    entry: 'services/ingest-gateway/dist/main.js',
    env: {
      PORT: port('INGEST_GATEWAY_PORT', 8096),
      DATABASE_URL: state.databaseUrl,
      OAUTH_ISSUER: 'lienthong-idp-sim',
      OAUTH_JWKS_URL: `${portal}/idp/jwks.json`,
      CIVIL_STATUS_RESULTS_URL: `http://127.0.0.1:${port('CIVIL_STATUS_SYNC_PORT', 8093)}`,
      LAND_RESULTS_URL: landSync,
      RESULTS_API_TOKEN: resultsApiToken,
    },
    url: `${gateway}/health`,
  },
  {
    // Simulated commune systems: dossiers, civil-status registrations and land dossiers on a
    // compressed clock (DOSSIERS_PER_MINUTE, CIVIL_STATUS_PER_MINUTE, LAND_PER_MINUTE, TIME_SCALE,
    // MISTAKE_RATIO; GET/PUT /traffic changes the rates while it runs), each commune publishing
    // through ingest-gateway with its own OAuth2 client.
    name: 'commune-sim',
    entry: 'services/commune-sim/dist/main.js',
    env: {
      PORT: port('COMMUNE_SIM_PORT', 8092),
      INGEST_GATEWAY_URL: gateway,
      IDP_TOKEN_URL: `${portal}/idp/token`,
      COMMUNE_SIM_ADMIN_TOKEN: simulatorsAdminToken,
    },
    url: `http://127.0.0.1:${port('COMMUNE_SIM_PORT', 8092)}/traffic`,
  },
];

step('build');
// Quiet unless it fails: the build's own output is for when something is wrong.
try {
  execFileSync(
    nx,
    [
      'run-many',
      '-t',
      'build',
      '--projects',
      services.map((s) => s.name).join(','),
      '--outputStyle=static',
    ],
    { stdio: 'pipe', cwd: repoRoot, env: { ...process.env, NX_TUI: 'false' } },
  );
  process.stdout.write(
    `built ${services.map((s) => s.name).join(', ')} and the libraries they use\n`,
  );
} catch (err) {
  const e = err as { stdout?: Buffer; stderr?: Buffer };
  process.stdout.write(`${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
  process.stderr.write('build failed (output above)\n');
  process.exit(1);
}

/** The service's Node flags and environment, as every launcher runs it (deploy/service-runtime.json). */
function runtimeOf(service: string): { nodeArgs: string[]; env: Record<string, string> } {
  const { profiles } = JSON.parse(
    readFileSync(join(repoRoot, 'deploy', 'service-runtime.json'), 'utf8'),
  ) as { profiles: Array<{ services: string[]; nodeArgs: string[]; env: Record<string, string> }> };
  const profile = profiles.find((p) => p.services.includes(service));
  return { nodeArgs: profile?.nodeArgs ?? [], env: profile?.env ?? {} };
}

step('services');
const children: ChildProcess[] = services.map((svc) => {
  const runtime = runtimeOf(svc.name);
  const child = spawn(node, [...runtime.nodeArgs, join(repoRoot, svc.entry)], {
    cwd: repoRoot,
    // warn by default, so what is printed is what needs attention (LOG_LEVEL=info npm start for all).
    env: {
      ...process.env,
      ...runtime.env,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      KAFKA_BROKERS: state.kafkaBrokers,
      // Each service is its own Kafka principal (deploy/local/kafka-security.ts, docs/security.md).
      ...(existsSync(join(state.kafkaSecretsDir, `${svc.name}.password`))
        ? {
            KAFKA_SASL_USERNAME: svc.name,
            KAFKA_SASL_PASSWORD_FILE: join(state.kafkaSecretsDir, `${svc.name}.password`),
          }
        : {}),
      ...svc.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${svc.name}] `;
  const relay = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) stream.write(`${prefix}${line}\n`);
  };
  child.stdout?.on('data', relay(process.stdout));
  child.stderr?.on('data', relay(process.stderr));
  child.on('exit', (code, signal) => {
    process.stdout.write(`${prefix}exited (${signal ?? code})\n`);
    if (!stopping) shutdown(1);
  });
  if (svc.url) process.stdout.write(`  ${svc.name.padEnd(18)} ${svc.url}\n`);
  return child;
});
process.stdout.write(
  `  ${'kafka'.padEnd(18)} ${state.kafkaBrokers}\n  ${'postgres'.padEnd(18)} ${state.databaseUrl}\n\n▶ Dashboard: ${monitor}/ — sign in as quocgia / quocgia-demo (all provinces),\n  hue / hue-demo (Huế only) or hue-xem / hue-xem-demo (Huế, read-only).\n\nLogs at warn and above (LOG_LEVEL=info npm start for all). Ctrl-C stops the services;\nnpm run stack:down stops Kafka and PostgreSQL.\n`,
);

let stopping = false;
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  let left = alive.length;
  if (left === 0) process.exit(code);
  for (const child of alive) {
    child.once('exit', () => {
      left -= 1;
      if (left === 0) process.exit(code);
    });
    child.kill('SIGTERM');
  }
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
