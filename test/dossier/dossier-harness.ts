import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { EncodedRecord, SyncHealthV2 } from '@lienthong/contracts';
import { TOPICS, dlqTopicFor } from '@lienthong/contracts';
import { toWireHeader, toWireStep } from '@lienthong/portal-clients';
import { fingerprint } from '@lienthong/sync-engine';
import {
  RecordingConsumer,
  ServiceProcess,
  connectedProducer,
  expectEventually,
  lifecycleRecords,
  PersonalDataWatch,
  startPortalSim,
} from '@lienthong/testing';
import type { DossierLifecycle, TestContext } from '@lienthong/testing';

/** A lifecycle's records, each with its own W3C trace (as a commune system that traces would send). */
export function tracedLifecycleRecords(life: DossierLifecycle): EncodedRecord[] {
  return lifecycleRecords(life, () => ({
    traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
  }));
}

export interface SyncStatusSeen {
  id: string;
  key: string;
  state: string;
  sequence: number;
  error?: { message: string; portalCode?: string };
}

/**
 * The world of a dossier e2e file: portal-sim and any number of dossier-sync instances as real
 * processes, this file's dossier topic (12 partitions), its DLQ and status topic, and views of
 * what the portal holds and what was published.
 */
export class DossierWorld {
  readonly instances: ServiceProcess[] = [];
  readonly statuses: RecordingConsumer;
  readonly dlqConsumer: RecordingConsumer;
  readonly health: RecordingConsumer;
  /** Every record of the world's dossier topic, whoever produced it: its personal values are watched. */
  readonly input: RecordingConsumer;

  private constructor(
    private readonly ctx: TestContext,
    readonly label: string,
    readonly sim: ServiceProcess,
    readonly topic: string,
    readonly statusTopic: string,
    readonly healthTopic: string,
  ) {
    this.statuses = new RecordingConsumer(ctx.kafka);
    this.dlqConsumer = new RecordingConsumer(ctx.kafka);
    this.health = new RecordingConsumer(ctx.kafka);
    this.input = new RecordingConsumer(ctx.kafka);
  }

  /** `label` keeps several worlds of one test file apart: own topics, ledger schema and portal state. */
  static async create(
    ctx: TestContext,
    label: string,
    simEnv: Record<string, string> = {},
  ): Promise<DossierWorld> {
    const topic = await ctx.createTopic(`${label}.${TOPICS.communeDossierEvents}`, 12);
    await ctx.createTopic(`${label}.${TOPICS.communeDossierEvents}.dlq.v1`, 3);
    const statusTopic = await ctx.createTopic(`${label}.${TOPICS.syncStatus}`, 12);
    const healthTopic = await ctx.createTopic(`${label}.${TOPICS.syncHealthV2}`, 1);
    await ctx.createTopic(`${label}.${TOPICS.syncStatusV2}`, 12);
    const sim = await startPortalSim(ctx, {
      PORTAL_SIM_SCHEMA: `${ctx.schema}_${label}_sim`,
      ...simEnv,
    });
    const world = new DossierWorld(ctx, label, sim, topic, statusTopic, healthTopic);
    await world.statuses.start(statusTopic);
    await world.dlqConsumer.start(dlqTopicFor(topic));
    await world.health.start(healthTopic);
    await world.input.start(topic);
    ctx.onCleanup(async () => {
      try {
        await world.expectNoPersonalDataInClear();
      } finally {
        await world.statuses.stop();
        await world.dlqConsumer.stop();
        await world.health.stop();
        await world.input.stop();
      }
    });
    return world;
  }

  get syncSchema(): string {
    return `${this.ctx.schema}_${this.label}_ds`;
  }

  get simSchema(): string {
    return `${this.ctx.schema}_${this.label}_sim`;
  }

  /** A dossier-sync instance (not started): tests start, stop and kill it. */
  async instance(name: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = new ServiceProcess({
      entry: 'services/dossier-sync/dist/main.js',
      env: {
        DATABASE_URL: this.ctx.stack.databaseUrl,
        KAFKA_BROKERS: this.ctx.stack.kafkaBrokers.join(','),
        DB_SCHEMA: this.syncSchema,
        KAFKA_GROUP_ID: `${this.topic}.dossier-sync`,
        EVENTS_TOPIC: this.topic,
        SYNC_STATUS_TOPIC: this.statusTopic,
        SYNC_HEALTH_TOPIC: this.healthTopic,
        SYNC_STATUS_V2_TOPIC: this.ctx.topic(`${this.label}.${TOPICS.syncStatusV2}`),
        HEALTH_REPORT_MS: '2000',
        DVCQG_BASE_URL: await this.sim.url(),
        INSTANCE_ID: name,
        LOG_LEVEL: 'info',
        DVCQG_TIMEOUT_MS: '2000',
        DISPATCH_LEASE_MS: '8000',
        DVCQG_BREAKER_RESET_TIMEOUT_MS: '2000',
        RETRY_INITIAL_MS: '200',
        RETRY_MAX_MS: '3000',
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
  }

  /** What DVCQG holds: header and steps (wire form) per MaHoSo. */
  async portalDossiers(): Promise<Map<string, { header: unknown; steps: unknown[] }>> {
    const headers = await this.ctx.sql.query<{ ma_ho_so: string; header: unknown }>(
      `select ma_ho_so, header from "${this.simSchema}".dvcqg_dossier`,
    );
    const steps = await this.ctx.sql.query<{ ma_ho_so: string; step: unknown }>(
      `select ma_ho_so, step from "${this.simSchema}".dvcqg_step order by id`,
    );
    const out = new Map<string, { header: unknown; steps: unknown[] }>();
    for (const h of headers) out.set(h.ma_ho_so, { header: h.header, steps: [] });
    for (const s of steps) out.get(s.ma_ho_so)?.steps.push(s.step);
    return out;
  }

  /** The portal's write counters: per dossier and operation (header, step), calls accepted and real changes. */
  async portalEffects(): Promise<Map<string, { header?: Effect; step?: Effect }>> {
    const rows = await this.ctx.sql.query<{
      entity_key: string;
      operation: 'header' | 'step';
      writes: number;
      changes: number;
    }>(
      `select entity_key, operation, writes, changes from "${this.simSchema}".write_effect where api = 'dvcqg'`,
    );
    const out = new Map<string, { header?: Effect; step?: Effect }>();
    for (const r of rows) {
      const e = out.get(r.entity_key) ?? {};
      e[r.operation] = { writes: r.writes, changes: r.changes };
      out.set(r.entity_key, e);
    }
    return out;
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

  /**
   * Personal data never in clear outside the ledger: every personal value of the world's traffic
   * (the fields the contracts declare personal) is looked for in every log line of its services
   * (dossier-sync instances and portal-sim), every DLQ header, every sync.status and sync.health
   * event. Runs when the world is cleaned up, after its test.
   */
  async expectNoPersonalDataInClear(): Promise<void> {
    const admin = this.ctx.kafka.admin();
    await admin.connect();
    let produced = 0;
    try {
      for (const p of await admin.fetchTopicOffsets(this.topic))
        produced += Number(p.high) - Number(p.low);
    } finally {
      await admin.disconnect();
    }
    await expectEventually(
      () => expect(this.input.messages.length).toBeGreaterThanOrEqual(produced),
      {
        timeoutMs: 30_000,
      },
    );
    const watch = new PersonalDataWatch();
    for (const m of this.input.messages) watch.plant(m.value);
    const leaks = [
      ...[this.sim, ...this.instances].flatMap((s, i) =>
        watch.leaks(
          `${this.label}: ${i === 0 ? 'portal-sim log' : `dossier-sync log ${i}`}`,
          s.logs,
        ),
      ),
      ...this.dlqConsumer.messages.flatMap((m) =>
        watch.leaks(
          `${this.label}: DLQ headers at ${m.partition}:${m.offset}`,
          JSON.stringify(m.headers),
        ),
      ),
      ...[...this.statuses.messages, ...this.health.messages].flatMap((m) =>
        watch.leaks(
          `${m.topic} at ${m.partition}:${m.offset}`,
          `${JSON.stringify(m.headers)} ${m.value ?? ''}`,
        ),
      ),
    ];
    // LEAK_DUMP=<dir>: every world's logs, to see where a leak comes from (they hold personal data).
    if (process.env.LEAK_DUMP)
      for (const [i, s] of [this.sim, ...this.instances].entries())
        writeFileSync(join(process.env.LEAK_DUMP, `${this.label}-${i}.log`), s.logs);
    expect({ planted: watch.size > 0 || produced === 0, leaks }).toEqual({
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
}

export interface Effect {
  writes: number;
  changes: number;
}

/** The header and steps a lifecycle must leave at DVCQG, in the portal's wire form (comparable fingerprints). */
export function expectedAtPortal(life: DossierLifecycle): { header: string; steps: string[] } {
  return {
    header: fingerprint(toWireHeader(life.final)),
    steps: life.steps.map((s) => fingerprint(toWireStep(s))),
  };
}

/** Every dossier at DVCQG exactly as its lifecycle ends, each step once. */
export async function expectPortalHoldsExactly(
  world: DossierWorld,
  lives: DossierLifecycle[],
  { stepOrder }: { stepOrder: boolean },
): Promise<void> {
  const portal = await world.portalDossiers();
  const effects = await world.portalEffects();
  expect(portal.size).toBe(lives.length);
  const problems: string[] = [];
  for (const life of lives) {
    const held = portal.get(life.code);
    const want = expectedAtPortal(life);
    if (!held) {
      problems.push(`${life.code}: missing`);
      continue;
    }
    if (fingerprint(held.header) !== want.header) problems.push(`${life.code}: header differs`);
    const got = held.steps.map((s) => fingerprint(s));
    if (
      stepOrder
        ? got.join() !== want.steps.join()
        : [...got].sort().join() !== [...want.steps].sort().join()
    )
      problems.push(`${life.code}: steps ${got.length} held, ${want.steps.length} expected`);
    // One effect per change: every step write appended a step that belongs there, none twice.
    const e = effects.get(life.code);
    if (e?.step?.writes !== life.steps.length || e.step.changes !== life.steps.length)
      problems.push(`${life.code}: step writes ${e?.step?.writes}, expected ${life.steps.length}`);
    const snapshots = life.events.filter((x) => x.kind === 'upsert').length;
    if (!e?.header || e.header.changes < 1 || e.header.changes > snapshots)
      problems.push(`${life.code}: header changes ${e?.header?.changes} not in 1..${snapshots}`);
  }
  expect(problems).toEqual([]);
}
