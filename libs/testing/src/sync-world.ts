import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EncodedRecord, SyncHealthV2, SyncStatusV2 } from '@lienthong/contracts';
import { TOPICS, dlqTopicFor } from '@lienthong/contracts';
import { expectEventually } from './expect-eventually';
import { RecordingConsumer, connectedProducer } from './kafka';
import { PersonalDataWatch } from './personal-data-watch';
import { startPortalSim } from './portal-sim-process';
import { ServiceProcess } from './service-process';
import type { TestContext } from './test-context';

/** The sync service a world runs: its built entry, its contract topic and its portal's variables. */
export interface SyncServiceUnderTest {
  /** e.g. dossier-sync: names instances, the ledger schema, the consumer group. */
  name: string;
  entry: string;
  /** The commune topic it consumes (the world makes its own copy). */
  contractTopic: string;
  /** Its portal's variables, pointing at the world's portal-sim. */
  portalEnv(portalUrl: string): Record<string, string>;
}

/**
 * A world's own copies of the operators' topics: commands (and their DLQ), reconciliation
 * progress, answers. A world never reads the shared `ops.commands.v1`, where commands of other
 * worlds and of `npm start` may sit for weeks.
 */
export interface OpsTopics {
  commands: string;
  progress: string;
  results: string;
  /** The services' portal exchanges (sync.exchanges.v1). */
  exchanges: string;
  /** The communes' Decision-766 counts (sync.indicators.v1). */
  indicators: string;
}

export interface SyncStatusSeen {
  id: string;
  key: string;
  state: string;
  sequence: number;
  error?: { message: string; portalCode?: string };
}

/**
 * The world of a sync e2e file: portal-sim and any number of instances of one sync service as real
 * processes, the world's copy of the commune topic (12 partitions), its DLQ, status (v1 and v2),
 * health and operators' topics, and views of the ledger and of what was published. On clean-up it checks
 * that no personal value of the world's traffic appears in clear in a log, a DLQ header, a status
 * or a health report.
 */
export class SyncWorld {
  readonly instances: ServiceProcess[] = [];
  /** Other processes of the world whose logs are watched for personal data too (sync-monitor). */
  private readonly watched: Array<{ name: string; process: ServiceProcess }> = [];
  readonly statuses: RecordingConsumer;
  readonly statusesV2: RecordingConsumer;
  readonly dlqConsumer: RecordingConsumer;
  readonly health: RecordingConsumer;
  /** Every record of the world's topic, whoever produced it: its personal values are watched. */
  readonly input: RecordingConsumer;
  private readonly openedAt = Date.now();

  protected constructor(
    protected readonly ctx: TestContext,
    readonly service: SyncServiceUnderTest,
    readonly label: string,
    readonly sim: ServiceProcess,
    readonly topic: string,
    readonly statusTopic: string,
    readonly statusV2Topic: string,
    readonly healthTopic: string,
    readonly ops: OpsTopics,
  ) {
    this.statuses = new RecordingConsumer(ctx.kafka);
    this.statusesV2 = new RecordingConsumer(ctx.kafka);
    this.dlqConsumer = new RecordingConsumer(ctx.kafka);
    this.health = new RecordingConsumer(ctx.kafka);
    this.input = new RecordingConsumer(ctx.kafka);
  }

  /**
   * Writes `[label] N s: what` to stderr, N counted from the world's opening: long e2e runs show
   * where their time went, so a run near its ceiling can be read rather than guessed at.
   */
  phase(what: string): void {
    process.stderr.write(
      `[${this.label}] ${Math.round((Date.now() - this.openedAt) / 1000)} s: ${what}\n`,
    );
  }

  /** `label` keeps several worlds of one test file apart: own topics, ledger schema and portal state. */
  static async open(
    ctx: TestContext,
    service: SyncServiceUnderTest,
    label: string,
    simEnv: Record<string, string> = {},
  ): Promise<SyncWorld> {
    const parts = await SyncWorld.setUp(ctx, label, service, simEnv);
    const world = new SyncWorld(ctx, service, label, ...parts);
    await world.listen();
    return world;
  }

  protected static async setUp(
    ctx: TestContext,
    label: string,
    service: SyncServiceUnderTest,
    simEnv: Record<string, string>,
  ): Promise<[ServiceProcess, string, string, string, string, OpsTopics]> {
    const topic = await ctx.createTopic(`${label}.${service.contractTopic}`, 12);
    await ctx.createTopic(`${label}.${service.contractTopic}.dlq.v1`, 3);
    const statusTopic = await ctx.createTopic(`${label}.${TOPICS.syncStatus}`, 12);
    const statusV2Topic = await ctx.createTopic(`${label}.${TOPICS.syncStatusV2}`, 12);
    const healthTopic = await ctx.createTopic(`${label}.${TOPICS.syncHealthV2}`, 1);
    const ops: OpsTopics = {
      commands: await ctx.createTopic(`${label}.${TOPICS.opsCommands}`, 1),
      progress: await ctx.createTopic(`${label}.${TOPICS.syncReconcile}`, 1),
      results: await ctx.createTopic(`${label}.${TOPICS.opsCommandResults}`, 1),
      exchanges: await ctx.createTopic(`${label}.${TOPICS.syncExchanges}`, 3),
      indicators: await ctx.createTopic(`${label}.${TOPICS.syncIndicators}`, 3),
    };
    await ctx.createTopic(`${label}.${TOPICS.opsCommands}.dlq.v1`, 1);
    const sim = await startPortalSim(ctx, {
      PORTAL_SIM_SCHEMA: `${ctx.schema}_${label}_sim`,
      ...simEnv,
    });
    return [sim, topic, statusTopic, statusV2Topic, healthTopic, ops];
  }

  protected async listen(): Promise<void> {
    await this.statuses.start(this.statusTopic);
    await this.statusesV2.start(this.statusV2Topic);
    await this.dlqConsumer.start(dlqTopicFor(this.topic));
    await this.health.start(this.healthTopic);
    await this.input.start(this.topic);
    this.ctx.onCleanup(async () => {
      try {
        await this.expectNoPersonalDataInClear();
      } finally {
        for (const c of [this.statuses, this.statusesV2, this.dlqConsumer, this.health, this.input])
          await c.stop();
      }
    });
  }

  get syncSchema(): string {
    return `${this.ctx.schema}_${this.label}_ds`;
  }

  get simSchema(): string {
    return `${this.ctx.schema}_${this.label}_sim`;
  }

  /** Secrets of the world (tokens, client secrets) that must not show up in clear either. */
  private readonly secrets: Array<{ value: string; name: string }> = [];

  /** Watches for a secret in clear, wherever personal data is watched for. */
  watchSecret(value: string, name: string): void {
    this.secrets.push({ value, name });
  }

  /** Watches another process's logs for personal data in clear, with the world's traffic. */
  watchLogs(name: string, process: ServiceProcess): void {
    this.watched.push({ name, process });
  }

  /** An instance of the service (not started): tests start, stop and kill it. */
  async instance(name: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = new ServiceProcess({
      entry: this.service.entry,
      env: {
        DATABASE_URL: this.ctx.stack.databaseUrl,
        KAFKA_BROKERS: this.ctx.stack.kafkaBrokers.join(','),
        DB_SCHEMA: this.syncSchema,
        KAFKA_GROUP_ID: `${this.topic}.${this.service.name}`,
        EVENTS_TOPIC: this.topic,
        SYNC_STATUS_TOPIC: this.statusTopic,
        SYNC_HEALTH_TOPIC: this.healthTopic,
        SYNC_STATUS_V2_TOPIC: this.statusV2Topic,
        OPS_COMMANDS_TOPIC: this.ops.commands,
        SYNC_RECONCILE_TOPIC: this.ops.progress,
        OPS_COMMAND_RESULTS_TOPIC: this.ops.results,
        SYNC_EXCHANGES_TOPIC: this.ops.exchanges,
        SYNC_INDICATORS_TOPIC: this.ops.indicators,
        HEALTH_REPORT_MS: '2000',
        INSTANCE_ID: name,
        LOG_LEVEL: 'info',
        DISPATCH_LEASE_MS: '8000',
        RETRY_INITIAL_MS: '200',
        RETRY_MAX_MS: '3000',
        ...this.service.portalEnv(await this.sim.url()),
        ...env,
      },
      readyTimeoutMs: 60_000,
    });
    this.instances.push(service);
    this.ctx.onCleanup(() => service.stop());
    return service;
  }

  async produce(records: EncodedRecord[]): Promise<void> {
    const producer = await connectedProducer(this.ctx.kafka);
    try {
      for (let i = 0; i < records.length; i += 1000)
        await producer.send({ topic: this.topic, messages: records.slice(i, i + 1000) });
    } finally {
      await producer.disconnect();
    }
  }

  async ledgerStates(): Promise<Record<string, number>> {
    const rows = await this.ctx.sql.query<{ state: string; n: string }>(
      `select state, count(*) n from "${this.syncSchema}".sync_entity group by state`,
    );
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async waitForLedger(expected: Record<string, number>, timeoutMs: number): Promise<void> {
    await expectEventually(async () => expect(await this.ledgerStates()).toEqual(expected), {
      timeoutMs,
      intervalMs: 500,
    });
  }

  async waitForOutboxDrained(timeoutMs = 30_000): Promise<void> {
    await expectEventually(
      async () => {
        const [row] = await this.ctx.sql.query<{ n: string }>(
          `select count(*) n from "${this.syncSchema}".outbox where published_at is null`,
        );
        expect(Number(row?.n)).toBe(0);
      },
      { timeoutMs, intervalMs: 300 },
    );
    // Published is not yet seen: the world's status consumers read what the relay sent.
    await this.waitForConsumed(
      [
        [this.statuses, this.statusTopic],
        [this.statusesV2, this.statusV2Topic],
      ],
      timeoutMs,
    );
  }

  /**
   * Until each consumer (which reads its topic alone) holds every record its topic holds now, a
   * replay's repeats included (the topics' offsets, read on one admin connection); returns those
   * counts.
   */
  private async waitForConsumed(
    pairs: Array<[RecordingConsumer, string]>,
    timeoutMs = 30_000,
  ): Promise<number[]> {
    const admin = this.ctx.kafka.admin();
    await admin.connect();
    const held: number[] = [];
    try {
      for (const [, topic] of pairs)
        held.push(
          (await admin.fetchTopicOffsets(topic)).reduce(
            (n, p) => n + Number(p.high) - Number(p.low),
            0,
          ),
        );
    } finally {
      await admin.disconnect();
    }
    await expectEventually(
      () => {
        for (const [i, [consumer]] of pairs.entries())
          expect(consumer.messages.length).toBeGreaterThanOrEqual(held[i] ?? 0);
      },
      { timeoutMs },
    );
    return held;
  }

  /** sync.status events seen, one per event id (a relay replay after a crash repeats an id). */
  syncStatuses(): SyncStatusSeen[] {
    const byId = new Map<string, SyncStatusSeen>();
    for (const m of this.statuses.messages) {
      const id = m.headers.ce_id as string;
      const body = JSON.parse(m.value ?? '{}') as {
        entity: { key: string };
        state: string;
        sequence: number;
        error?: { message: string; portalCode?: string };
      };
      byId.set(id, {
        id,
        key: body.entity.key,
        state: body.state,
        sequence: body.sequence,
        ...(body.error ? { error: body.error } : {}),
      });
    }
    return [...byId.values()];
  }

  /** sync.status.v2 events seen, one per event id, in the order they arrived. */
  syncStatusesV2(): SyncStatusV2[] {
    const byId = new Map<string, SyncStatusV2>();
    for (const m of this.statusesV2.messages)
      byId.set(m.headers.ce_id as string, JSON.parse(m.value ?? '{}') as SyncStatusV2);
    return [...byId.values()];
  }

  /**
   * Personal data never in clear outside the ledger: every personal value of the world's traffic
   * (the fields the contracts declare personal) is looked for in every log line of its services
   * (the sync instances and portal-sim), every DLQ header, every sync.status (v1, v2) and
   * sync.health event. Runs when the world is cleaned up, after its test.
   */
  async expectNoPersonalDataInClear(): Promise<void> {
    const [produced] = await this.waitForConsumed([[this.input, this.topic]]);
    const watch = new PersonalDataWatch();
    for (const m of this.input.messages) watch.plant(m.value);
    const planted = watch.size > 0 || produced === 0;
    // Canaries: every Kafka principal's password, and the secrets the test handed the world.
    const secretsDir = this.ctx.stack.kafkaSecretsDir;
    if (secretsDir) {
      for (const file of readdirSync(secretsDir).filter((f) => f.endsWith('.password')))
        watch.plantSecret(
          readFileSync(join(secretsDir, file), 'utf8').trim(),
          `Kafka password ${file}`,
        );
    }
    for (const s of this.secrets) watch.plantSecret(s.value, s.name);
    const leaks = [
      ...[this.sim, ...this.instances].flatMap((s, i) =>
        watch.leaks(
          `${this.label}: ${i === 0 ? 'portal-sim log' : `${this.service.name} log ${i}`}`,
          s.logs,
        ),
      ),
      ...this.watched.flatMap((w) => watch.leaks(`${this.label}: ${w.name} log`, w.process.logs)),
      ...this.dlqConsumer.messages.flatMap((m) =>
        watch.leaks(
          `${this.label}: DLQ headers at ${m.partition}:${m.offset}`,
          JSON.stringify(m.headers),
        ),
      ),
      ...[...this.statuses.messages, ...this.statusesV2.messages, ...this.health.messages].flatMap(
        (m) =>
          watch.leaks(
            `${m.topic} at ${m.partition}:${m.offset}`,
            `${JSON.stringify(m.headers)} ${m.value ?? ''}`,
          ),
      ),
    ];
    // LEAK_DUMP=<dir>: every world's logs, to see where a leak comes from (they hold personal data).
    if (process.env.LEAK_DUMP) {
      for (const [i, s] of [this.sim, ...this.instances].entries())
        writeFileSync(join(process.env.LEAK_DUMP, `${this.label}-${i}.log`), s.logs);
      for (const w of this.watched)
        writeFileSync(join(process.env.LEAK_DUMP, `${this.label}-${w.name}.log`), w.process.logs);
    }
    expect({ planted, leaks }).toEqual({
      planted: true,
      leaks: [],
    });
  }

  /** The sync.health.v2 reports seen so far, oldest first. */
  healthReports(): SyncHealthV2[] {
    return this.health.messages.map((m) => JSON.parse(m.value ?? '{}') as SyncHealthV2);
  }

  async metric(instance: ServiceProcess, name: string): Promise<string[]> {
    const text = await (await fetch(await instance.url('/metrics'))).text();
    return text.split('\n').filter((l) => l.startsWith(name));
  }

  /** The portal's write counters of one API: per entity and operation, calls accepted and real changes. */
  async portalEffects(api: string): Promise<Map<string, Record<string, Effect>>> {
    const rows = await this.ctx.sql.query<{
      entity_key: string;
      operation: string;
      writes: number;
      changes: number;
    }>(
      `select entity_key, operation, writes, changes from "${this.simSchema}".write_effect where api = $1`,
      [api],
    );
    const out = new Map<string, Record<string, Effect>>();
    for (const r of rows) {
      const e = out.get(r.entity_key) ?? {};
      e[r.operation] = { writes: r.writes, changes: r.changes };
      out.set(r.entity_key, e);
    }
    return out;
  }
}

export interface Effect {
  writes: number;
  changes: number;
}
