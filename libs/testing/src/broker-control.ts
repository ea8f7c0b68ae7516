import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { workspaceRoot } from './service-process';

const run = promisify(execFile);

async function stack(kind: string, what: string, ...args: string[]): Promise<void> {
  if (kind !== 'local') {
    throw new Error(
      `cannot restart a ${kind} ${what}; chaos tests need the local stack (deploy/local)`,
    );
  }
  await run(process.execPath, [join(workspaceRoot, 'deploy/local/stack.ts'), ...args], {
    timeout: 120_000,
  });
}

/**
 * Stops and starts the real broker, for chaos tests. Only the local stack (deploy/local) can be
 * driven this way; against an external broker or testcontainers this fails with a clear reason
 * rather than pretending.
 */
export class BrokerControl {
  constructor(private readonly kind: string) {}

  private stack(...args: string[]): Promise<void> {
    return stack(this.kind, 'broker', ...args);
  }

  /** Hard stop (SIGKILL): what a crash looks like to clients. */
  kill(): Promise<void> {
    return this.stack('kafka', 'kill');
  }

  start(): Promise<void> {
    return this.stack('kafka', 'start');
  }
}

/** Restarts the real PostgreSQL server of the local stack, for chaos tests. */
export class PostgresControl {
  constructor(private readonly kind: string) {}

  /** Immediate shutdown (no checkpoint, WAL recovery on start), then start: what a crash looks like. */
  crash(): Promise<void> {
    return stack(this.kind, 'database', 'postgres', 'crash');
  }

  /** Fast shutdown (connections cut, clean checkpoint), then start. */
  restart(): Promise<void> {
    return stack(this.kind, 'database', 'postgres', 'restart');
  }
}
