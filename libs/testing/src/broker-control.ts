import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const workspaceRoot = resolve(__dirname, '..', '..', '..');

/**
 * Stops and starts the real broker, for chaos tests. Only the local stack (deploy/local) can be
 * driven this way; against an external broker or testcontainers this fails with a clear reason
 * rather than pretending.
 */
export class BrokerControl {
  constructor(private readonly kind: string) {}

  private async stack(...args: string[]): Promise<void> {
    if (this.kind !== 'local') {
      throw new Error(
        `BrokerControl: cannot restart a ${this.kind} broker; chaos tests need the local stack (deploy/local)`,
      );
    }
    await run(process.execPath, [join(workspaceRoot, 'deploy/local/stack.ts'), ...args], {
      timeout: 120_000,
    });
  }

  /** Hard stop (SIGKILL): what a crash looks like to clients. */
  kill(): Promise<void> {
    return this.stack('kafka', 'kill');
  }

  start(): Promise<void> {
    return this.stack('kafka', 'start');
  }
}
