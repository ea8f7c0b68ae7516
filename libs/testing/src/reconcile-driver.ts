import { randomUUID } from 'node:crypto';
import { EVENT_TYPES } from '@lienthong/contracts';
import type { OpsCommand, Reconcile, ReconcileProgressV1 } from '@lienthong/contracts';
import { expectEventually } from './expect-eventually';
import { opsReconcile, toRecord } from './fixtures';
import { RecordingConsumer } from './kafka';
import type { SyncWorld } from './sync-world';
import type { TestContext } from './test-context';

/** A reconcile_run row as the tests read it. */
export interface ReconcileRunRow {
  id: string;
  status: string;
  cursor: string | null;
  total: number;
  checked: number;
  matched: number;
  missing: number;
  drifted: number;
  in_flux: number;
  repaired: number;
  verified: number;
}

/**
 * An operator's side of reconciliation in an e2e world: the world's ops-command and progress
 * topics (its instances have them), commands sent as ops.commands.v1 records, runs read back
 * from the service's ledger schema, progress messages recorded.
 */
export class ReconcileDriver {
  readonly progress: RecordingConsumer;

  private constructor(
    private readonly ctx: TestContext,
    private readonly schema: string,
    readonly opsTopic: string,
    readonly progressTopic: string,
    readonly resultsTopic: string,
  ) {
    this.progress = new RecordingConsumer(ctx.kafka);
  }

  static async open(
    ctx: TestContext,
    world: Pick<SyncWorld, 'ops' | 'syncSchema'>,
  ): Promise<ReconcileDriver> {
    const { commands, progress, results } = world.ops;
    const driver = new ReconcileDriver(ctx, world.syncSchema, commands, progress, results);
    await driver.progress.start(progress);
    ctx.onCleanup(() => driver.progress.stop());
    return driver;
  }

  /** What the service needs to take this driver's commands quickly (its topics are the world's). */
  get env(): Record<string, string> {
    return { RECONCILE_IDLE_MS: '200' };
  }

  command(
    domain: Reconcile['scope']['domain'],
    dryRun: boolean,
    extra: Partial<Reconcile> = {},
  ): Reconcile {
    return {
      ...(opsReconcile() as Reconcile),
      commandId: randomUUID(),
      requestedAt: new Date().toISOString(),
      scope: { domain },
      dryRun,
      ...extra,
    };
  }

  async send(command: OpsCommand): Promise<void> {
    const producer = this.ctx.kafka.producer();
    await producer.connect();
    try {
      const record = toRecord({
        name: '',
        type: EVENT_TYPES.OpsCommand,
        topic: this.opsTopic,
        data: command,
      });
      await producer.send({ topic: this.opsTopic, messages: [record] });
    } finally {
      await producer.disconnect();
    }
  }

  /** The run its command started, once there is one. */
  async run(command: Reconcile): Promise<ReconcileRunRow | undefined> {
    const rows = await this.ctx.sql.query<ReconcileRunRow>(
      `select * from "${this.schema}".reconcile_run where command_id = $1`,
      [command.commandId],
    );
    return rows[0];
  }

  /** Waits until the command's run finished; its row. */
  async finished(command: Reconcile, timeoutMs = 180_000): Promise<ReconcileRunRow> {
    return expectEventually(
      async () => {
        const row = await this.run(command);
        expect(row?.status).toBe('finished');
        return row as ReconcileRunRow;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** The findings of a run: entity key → verdict. */
  async findings(runId: string): Promise<Map<string, string>> {
    const rows = await this.ctx.sql.query<{ entity_key: string; verdict: string }>(
      `select entity_key, verdict from "${this.schema}".reconcile_finding where run_id = $1`,
      [runId],
    );
    return new Map(rows.map((r) => [r.entity_key, r.verdict]));
  }

  /** The progress messages of a run, oldest first. */
  progressOf(runId: string): ReconcileProgressV1[] {
    return this.progress.messages
      .map((m) => JSON.parse(m.value ?? '{}') as ReconcileProgressV1)
      .filter((p) => p.id === runId);
  }
}
