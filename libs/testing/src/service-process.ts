import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { expectEventually } from './expect-eventually';
import { kafkaPrincipalEnv, principalOfEntry } from './test-env';

/** The repository's root (libs/testing/src is three levels down). */
export const workspaceRoot = resolve(__dirname, '..', '..', '..');

/** How a launcher runs a service's Node process: its flags and environment (deploy/service-runtime.json). */
export interface ServiceRuntime {
  nodeArgs: string[];
  env: Record<string, string>;
}

/** The runtime profile of the service an entry belongs to (none: no flags, no environment). */
export function serviceRuntime(entry: string): ServiceRuntime {
  const file = resolve(workspaceRoot, 'deploy', 'service-runtime.json');
  const { profiles } = JSON.parse(readFileSync(file, 'utf8')) as {
    profiles: Array<ServiceRuntime & { services: string[] }>;
  };
  const service = principalOfEntry(entry);
  const profile = profiles.find((p) => service !== undefined && p.services.includes(service));
  return { nodeArgs: profile?.nodeArgs ?? [], env: profile?.env ?? {} };
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export interface ServiceOptions {
  /** Built entry point relative to the workspace root, e.g. services/portal-sim/dist/main.js. */
  entry: string;
  env: Record<string, string>;
  /** HTTP path that answers 200 once the service is ready. */
  readyPath?: string;
  readyTimeoutMs?: number;
}

/**
 * A service under test as a real OS process (its built output, on the same Node 24 as the tests),
 * so e2e tests exercise what operators run: config from the environment, HTTP on a real port,
 * signals for shutdown and crashes.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private output = '';
  readonly port: Promise<number>;

  constructor(private readonly options: ServiceOptions) {
    this.port = options.env.PORT ? Promise.resolve(Number(options.env.PORT)) : freePort();
  }

  get logs(): string {
    return this.output;
  }

  /** The OS process id while it runs (a restart gives a new one). */
  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  async url(path = ''): Promise<string> {
    return `http://127.0.0.1:${await this.port}${path}`;
  }

  async start(): Promise<this> {
    const port = await this.port;
    const runtime = serviceRuntime(this.options.entry);
    const child = spawn(
      process.execPath,
      [...runtime.nodeArgs, resolve(workspaceRoot, this.options.entry)],
      {
        cwd: workspaceRoot,
        env: {
          ...process.env,
          ...runtime.env,
          // Each service authenticates to Kafka as itself (services/<name> → principal <name>).
          ...kafkaPrincipalEnv(principalOfEntry(this.options.entry) ?? ''),
          ...this.options.env,
          PORT: String(port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const append = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const readyPath = this.options.readyPath ?? '/health/ready';
    // A service that exits during start-up fails the start at once, with its output.
    let onExit: (() => void) | undefined;
    const exited = new Promise<never>((_, fail) => {
      onExit = () =>
        fail(
          new Error(
            `${this.options.entry} exited with ${child.exitCode ?? child.signalCode}:\n${this.output}`,
          ),
        );
      child.once('exit', onExit);
    });
    const ready = expectEventually(
      async () => {
        const res = await fetch(await this.url(readyPath));
        expect(res.status).toBe(200);
      },
      { timeoutMs: this.options.readyTimeoutMs ?? 30_000, intervalMs: 100 },
    );
    try {
      await Promise.race([ready, exited]);
    } finally {
      if (onExit) child.off('exit', onExit);
      ready.catch(() => undefined);
      exited.catch(() => undefined);
    }
    return this;
  }

  /** SIGTERM and wait for a graceful exit; resolves with the exit code. */
  stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL: a crash, no chance to clean up. */
  kill(): Promise<number | null> {
    return this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve(child?.exitCode ?? null);
    }
    return new Promise((done) => {
      child.once('exit', (code) => done(code));
      child.kill(signal);
    });
  }
}
