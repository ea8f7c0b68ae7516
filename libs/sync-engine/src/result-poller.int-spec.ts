import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { PortalCallError } from '@lienthong/resilience';
import { expectEventually, useTestContext } from '@lienthong/testing';
import { Dispatcher } from './dispatcher';
import { LedgerIngest } from './ledger-ingest';
import type { LedgerItem } from './ledger-ingest';
import { PushTarget } from './push-target.port';
import type { AwaitingEntity, ClaimedEntity, PollAnswer, PushReceipt } from './push-target.port';
import { ResultPoller } from './result-poller';
import type { ResultPollerOptions } from './result-poller';
import { SYNC_LEDGER_MIGRATIONS } from './sync-ledger.migration';

/** A registry, scripted: accepts every submission with a reference, answers polls as the test says. */
class ScriptedRegistry extends PushTarget {
  readonly target = 'civil-status-registry' as const;
  readonly domain = 'civil-status' as const;
  override readonly pollBatch = 3;
  readonly submitted: string[] = [];
  readonly asked: string[][] = [];
  answers = new Map<string, PollAnswer>();
  failNextPoll = false;

  push(entity: ClaimedEntity): Promise<PushReceipt> {
    this.submitted.push(entity.entityKey);
    return Promise.resolve({
      pushedParts: entity.parts.map((p) => p.partKey),
      awaiting: { reference: `LT-${entity.entityKey}` },
    });
  }

  override poll(entities: AwaitingEntity[]): Promise<Map<string, PollAnswer>> {
    this.asked.push(entities.map((e) => e.reference));
    if (this.failNextPoll) {
      this.failNextPoll = false;
      return Promise.reject(new PortalCallError('PORTAL_UNAVAILABLE', 'registry answered 503'));
    }
    return Promise.resolve(
      new Map(
        entities.flatMap((e) => {
          const a = this.answers.get(e.entityKey);
          return a ? [[e.entityKey, a] as const] : [];
        }),
      ),
    );
  }

  blocked(): boolean {
    return false;
  }
}

describe('two-phase targets: accepted now, answered later (real PostgreSQL)', () => {
  const ctx = useTestContext('result-poller');
  const ingest = new LedgerIngest('civil-status-sync');
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'result-poller-int-spec',
    });
    ctx.onCleanup(() => ds.destroy());
  });

  beforeEach(async () => {
    await ctx.sql.query('truncate sync_entity, sync_entity_part, processed_event, outbox');
  });

  const birth = (key: string, sequence: number, extra: object = {}): LedgerItem => ({
    eventId: randomUUID(),
    source: '/communes/26740/ho-tich',
    domain: 'civil-status',
    entityType: 'birth',
    entityKey: key,
    communeCode: '26740',
    target: 'civil-status-registry',
    sequence,
    kind: 'snapshot',
    payload: { maDinhDanhHoSo: key, nksHoTen: 'Nguyễn Văn Bé', ...extra },
  });
  /** A poller of `registry` that asks again at once when nobody answers, unless `overrides` say otherwise. */
  const pollerFor = (registry: ScriptedRegistry, overrides: Partial<ResultPollerOptions> = {}) =>
    new ResultPoller({
      dataSource: ds,
      pushTarget: registry,
      owner: 'p1',
      leaseMs: 30_000,
      initialMs: 0,
      maxMs: 0,
      idleMs: 20,
      ...overrides,
    });
  const world = (registry: ScriptedRegistry) => ({
    dispatcher: new Dispatcher({
      dataSource: ds,
      pushTarget: registry,
      owner: 'w1',
      retry: {
        initialIntervalMs: 50,
        backoffCoefficient: 2,
        maximumIntervalMs: 200,
        maximumAttempts: 0,
      },
      leaseMs: 30_000,
      concurrency: 8,
      idleMs: 20,
      firstPollMs: 0,
    }),
    poller: pollerFor(registry),
  });
  const ledger = async () =>
    Object.fromEntries(
      (
        await ctx.sql.query<{ entity_key: string; state: string }>(
          'select entity_key, state from sync_entity order by entity_key',
        )
      ).map((r) => [r.entity_key, r.state]),
    );
  const statuses = async (key: string) =>
    (
      await ctx.sql.query<{ payload: Record<string, unknown> }>(
        `select payload from outbox_status where message_key = $1 order by id, n`,
        [`civil-status:${key}`],
      )
    ).map((r) => r.payload);

  it('accepted → AWAITING_RESULT, the stage followed, then SYNCED with the result kept in the ledger and published by reference', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    await ingest.ingest(ds.manager, [birth('KS-1', 1)]);
    await dispatcher.runOnce();
    expect(await ledger()).toEqual({ 'KS-1': 'AWAITING_RESULT' });
    // The outcome's statement wrote the status with the wait's times as the row holds them.
    const [wait] = await ctx.sql.query<{ since: Date; next: Date }>(
      'select awaiting_since since, next_poll_at next from sync_entity',
    );
    expect((await statuses('KS-1'))[1]).toMatchObject({
      state: 'AWAITING_RESULT',
      sequence: 1,
      attempt: 1,
      awaiting: {
        since: wait?.since.toISOString(),
        polls: 0,
        nextPollAt: wait?.next.toISOString(),
      },
    });

    expect(await poller.runOnce()).toBe(1); // nothing known yet: still waiting, no status
    registry.answers.set('KS-1', { kind: 'waiting', stage: { code: '3', label: 'Đang xử lý' } });
    await poller.runOnce();
    await poller.runOnce(); // the same stage again: no second status
    registry.answers.set('KS-1', {
      kind: 'done',
      result: { soDinhDanh: '079225000123', soDangKy: '15', quyenSo: '01/2025' },
      published: { soDangKy: '15', quyenSo: '01/2025' },
    });
    await poller.runOnce();
    expect(await ledger()).toEqual({ 'KS-1': 'SYNCED' });
    expect(registry.asked).toEqual([['LT-KS-1'], ['LT-KS-1'], ['LT-KS-1'], ['LT-KS-1']]);

    const [accepted, awaiting, stage, synced] = await statuses('KS-1');
    expect(accepted?.state).toBe('ACCEPTED');
    expect(awaiting).toMatchObject({
      state: 'AWAITING_RESULT',
      receipt: { reference: 'LT-KS-1' },
      awaiting: { polls: 0 },
    });
    expect(stage).toMatchObject({
      state: 'AWAITING_RESULT',
      portalStage: { code: '3', label: 'Đang xử lý' },
      awaiting: { polls: 2 },
    });
    expect(synced).toMatchObject({
      state: 'SYNCED',
      receipt: {
        reference: 'LT-KS-1',
        result: { resultRef: 'civil-status:KS-1:1', soDangKy: '15', quyenSo: '01/2025' },
      },
    });
    // The newborn's personal ID stays in the ledger, never in a status.
    expect(JSON.stringify(await statuses('KS-1'))).not.toContain('079225000123');
    const [row] = await ctx.sql.query<{ result: { soDinhDanh: string } }>(
      'select result from sync_entity',
    );
    expect(row?.result.soDinhDanh).toBe('079225000123');
  });

  it('a supplement request is a state the commune sees; its new submission is pushed and awaited again', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    await ingest.ingest(ds.manager, [birth('KS-2', 1)]);
    await dispatcher.runOnce();
    registry.answers.set('KS-2', {
      kind: 'supplement',
      requestedAt: '2025-07-02T10:00:00+07:00',
      deadline: '2025-07-05',
      note: 'Bổ sung giấy chứng sinh của Nguyễn Văn Bé',
    });
    await poller.runOnce();
    await poller.runOnce(); // asked again, nothing new: no second status
    expect(await ledger()).toEqual({ 'KS-2': 'SUPPLEMENT_REQUESTED' });
    const supplements = (await statuses('KS-2')).filter((s) => s.state === 'SUPPLEMENT_REQUESTED');
    expect(supplements).toEqual([
      expect.objectContaining({
        supplement: {
          requestedAt: '2025-07-02T10:00:00+07:00',
          deadline: '2025-07-05',
          note: 'Bổ sung giấy chứng sinh của […]',
        },
      }),
    ]);

    // The commune supplements: a new desired state, pushed, awaited again.
    await ingest.ingest(ds.manager, [birth('KS-2', 2, { maGCS: 'GCS-9' })]);
    expect(await ledger()).toEqual({ 'KS-2': 'PENDING' });
    await dispatcher.runOnce();
    expect(await ledger()).toEqual({ 'KS-2': 'AWAITING_RESULT' });
    expect(registry.submitted).toEqual(['KS-2', 'KS-2']);
  });

  it('a refusal is REJECTED with the reason; a failed poll loses nothing; a duplicate event does not end the wait', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    const first = birth('KS-3', 1);
    await ingest.ingest(ds.manager, [first, birth('KS-4', 1)]);
    await dispatcher.runOnce();
    // The same state again under a new sequence: the portal holds it; it still awaits its answer.
    await ingest.ingest(ds.manager, [{ ...first, eventId: randomUUID(), sequence: 2 }]);
    expect(await ledger()).toEqual({ 'KS-3': 'AWAITING_RESULT', 'KS-4': 'AWAITING_RESULT' });

    registry.failNextPoll = true;
    await expect(poller.runOnce()).rejects.toMatchObject({ code: 'PORTAL_UNAVAILABLE' });
    expect(await ledger()).toEqual({ 'KS-3': 'AWAITING_RESULT', 'KS-4': 'AWAITING_RESULT' });

    registry.answers.set('KS-3', {
      kind: 'refused',
      error: new PortalCallError('PORTAL_REJECTED', 'the registry refused NhanDKHT', {
        portalCode: '6',
        portalMessage: 'Giấy chứng sinh đã được sử dụng',
      }),
    });
    registry.answers.set('KS-4', { kind: 'done', result: {} });
    await poller.runOnce();
    expect(await ledger()).toEqual({ 'KS-3': 'REJECTED', 'KS-4': 'SYNCED' });
    expect((await statuses('KS-3')).at(-1)).toMatchObject({
      state: 'REJECTED',
      error: {
        code: 'PORTAL_REJECTED',
        portalCode: '6',
        message: 'the registry refused NhanDKHT: Giấy chứng sinh đã được sử dụng',
      },
    });
  });

  it("a round's answers are recorded in one transaction; a row another writer holds is recorded alone once free", async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    const keys = ['KS-21', 'KS-22', 'KS-23'];
    await ingest.ingest(
      ds.manager,
      keys.map((k) => birth(k, 1)),
    );
    await dispatcher.runOnce();
    for (const k of keys) registry.answers.set(k, { kind: 'done', result: {} });
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    // Between the poller's claim and its answers, another writer locks one of the rows.
    const ask = registry.poll.bind(registry);
    registry.poll = async (entities) => {
      await qr.query(`select 1 from sync_entity where entity_key = 'KS-22' for update`);
      return ask(entities);
    };
    const round = poller.runOnce();
    await expectEventually(async () =>
      expect(await ledger()).toEqual({
        'KS-21': 'SYNCED',
        'KS-22': 'AWAITING_RESULT',
        'KS-23': 'SYNCED',
      }),
    );
    await qr.commitTransaction();
    await qr.release();
    expect(await round).toBe(3);
    expect(await ledger()).toEqual({ 'KS-21': 'SYNCED', 'KS-22': 'SYNCED', 'KS-23': 'SYNCED' });
    const written = await ctx.sql.query<{ key: string; tx: string; id: string }>(
      `select message_key key, tx, id from outbox_status where payload->>'state' = 'SYNCED' order by message_key`,
    );
    expect(written.map((w) => w.key)).toEqual(keys.map((k) => `civil-status:${k}`));
    expect(written[0]?.tx).toBe(written[2]?.tx);
    expect(written[1]?.tx).not.toBe(written[0]?.tx);
    // The round's statuses share one outbox row (the relay publishes each under its own key).
    expect(written[0]?.id).toBe(written[2]?.id);
  });

  it('asks about at most pollBatch entities per call, each once per round across pollers; a result that never comes stays visible', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher } = world(registry);
    await ingest.ingest(
      ds.manager,
      Array.from({ length: 7 }, (_, i) => birth(`KS-1${i}`, 1)),
    );
    await dispatcher.runOnce();
    const pollers = [1, 2].map((n) =>
      pollerFor(registry, { owner: `p${n}`, initialMs: 60_000, maxMs: 600_000 }),
    );
    await Promise.all([...pollers, ...pollers].map((p) => p.runOnce()));
    const asked = registry.asked.flat();
    expect(registry.asked.filter((batch) => batch.length > 3)).toEqual([]);
    expect([...asked].sort()).toEqual(Array.from({ length: 7 }, (_, i) => `LT-KS-1${i}`).sort());
    // Nobody answered: each waits a minute before the next question, and its wait is on record.
    const rows = await ctx.sql.query<{ polls: number; wait_s: number; since: Date | null }>(
      `select polls, extract(epoch from next_poll_at - now())::int wait_s, awaiting_since since from sync_entity`,
    );
    expect(rows.map((r) => [r.polls, r.wait_s > 100 && r.wait_s <= 120, r.since !== null])).toEqual(
      Array.from({ length: 7 }, () => [1, true, true]),
    );
  });

  it('a poll answer older than a callback already applied changes nothing, yet the poll is counted and the next one waits its turn', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher } = world(registry);
    const poller = pollerFor(registry, { initialMs: 60_000, maxMs: 600_000 });
    await ingest.ingest(ds.manager, [birth('KS-6', 1)]);
    await dispatcher.runOnce();
    expect(
      await poller.applyFact({
        id: 'cb-6',
        reference: 'LT-KS-6',
        at: new Date('2025-07-04T08:00:00Z'),
        answer: { kind: 'waiting', stage: { code: 'LuanChuyen' } },
      }),
    ).toBe('applied');
    // The fallback poll is due; the registry's lookup still shows an earlier moment: its answer is stale.
    await ctx.sql.query(`update sync_entity set next_poll_at = now()`);
    registry.answers.set('KS-6', {
      kind: 'done',
      result: {},
      at: new Date('2025-07-03T08:00:00Z'),
    });
    expect(await poller.runOnce()).toBe(1);
    const [row] = await ctx.sql.query<{
      state: string;
      polls: number;
      leased: boolean;
      wait_s: number;
    }>(
      `select state, polls, lease_token is not null leased,
         extract(epoch from next_poll_at - now())::int wait_s from sync_entity`,
    );
    expect(row && { ...row, wait_s: row.wait_s > 100 }).toEqual({
      state: 'AWAITING_RESULT',
      polls: 1,
      leased: false,
      wait_s: true,
    });
    // Not asked again at once.
    expect(await poller.runOnce()).toBe(0);
  });

  it('callbacks (inbound facts): applied once, in the portal order; a late or repeated one changes nothing; an unknown reference is not remembered', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    const fact = (id: string, at: string, answer: PollAnswer) => ({
      id,
      reference: 'LT-KS-5',
      at: new Date(at),
      answer,
    });
    const routed = fact('cb-1', '2025-07-02T08:00:00Z', {
      kind: 'waiting',
      stage: { code: 'LuanChuyen', label: 'Đã luân chuyển' },
    });
    // Before the push is recorded, no entity awaits under the reference: not applied, not kept.
    expect(await poller.applyFact(routed)).toBe('unknown');
    await ingest.ingest(ds.manager, [birth('KS-5', 1)]);
    await dispatcher.runOnce();

    expect(await poller.applyFact(routed)).toBe('applied');
    expect(await poller.applyFact(routed)).toBe('duplicate');
    const tax = fact('cb-3', '2025-07-03T08:00:00Z', {
      kind: 'waiting',
      taxNotice: { reference: 'TB-0001', kind: 'LPTB' },
    });
    const finished = fact('cb-4', '2025-07-04T08:00:00Z', {
      kind: 'done',
      result: { TrangThaiKetThuc: '1' },
      stage: { code: 'KetThuc' },
    });
    const supplementLate = fact('cb-2', '2025-07-02T09:00:00Z', {
      kind: 'supplement',
      requestedAt: '2025-07-02T09:00:00Z',
      deadline: null,
    });
    expect(await poller.applyFact(tax)).toBe('applied');
    // The supplement request happened before the tax notice: it arrives late and changes nothing.
    expect(await poller.applyFact(supplementLate)).toBe('stale');
    expect(await ledger()).toEqual({ 'KS-5': 'AWAITING_RESULT' });
    expect(await poller.applyFact(finished)).toBe('applied');
    // Once SYNCED, a late callback has nothing left to change.
    expect(await poller.applyFact(fact('cb-5', '2025-07-05T08:00:00Z', { kind: 'waiting' }))).toBe(
      'settled',
    );
    expect(await ledger()).toEqual({ 'KS-5': 'SYNCED' });
    const states = (await statuses('KS-5')).map((s) => [
      s.state,
      (s.portalStage as { code?: string } | undefined)?.code ?? null,
      (s.taxNotice as { reference?: string } | undefined)?.reference ?? null,
    ]);
    expect(states).toEqual([
      ['ACCEPTED', null, null],
      ['AWAITING_RESULT', null, null],
      ['AWAITING_RESULT', 'LuanChuyen', null],
      ['AWAITING_RESULT', null, 'TB-0001'],
      ['SYNCED', 'KetThuc', null],
    ]);
  });

  it('callbacks that arrive together are applied in one transaction, each answered as it would be alone', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    await ingest.ingest(
      ds.manager,
      ['KS-30', 'KS-31', 'KS-32', 'KS-33'].map((k) => birth(k, 1)),
    );
    await dispatcher.runOnce();
    expect(registry.submitted).toHaveLength(4);
    const fact = (id: string, key: string, at: string, answer: PollAnswer) => ({
      id,
      reference: `LT-${key}`,
      at: new Date(at),
      answer,
    });
    const routed = (id: string, key: string) =>
      fact(id, key, '2025-07-02T08:00:00Z', { kind: 'waiting', stage: { code: 'LuanChuyen' } });
    // Another writer holds KS-32's row: the batch skips it, and it is applied alone once free.
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await qr.query(`select 1 from sync_entity where entity_key = 'KS-32' for update`);
    const outcomes = Promise.all([
      poller.applyFact(routed('cb-30', 'KS-30')), // the first goes at once, alone
      poller.applyFact(routed('cb-31', 'KS-31')), // the rest arrive meanwhile: one batch
      poller.applyFact(routed('cb-31', 'KS-31')), // the same callback twice
      poller.applyFact(
        fact('cb-33', 'KS-33', '2025-07-04T08:00:00Z', { kind: 'done', result: { n: 1 } }),
      ),
      poller.applyFact(routed('cb-99', 'KS-99')), // no entity under that reference
      poller.applyFact(routed('cb-32', 'KS-32')),
      poller.applyFact(routed('cb-33-late', 'KS-33')), // after KS-33's answer is in
    ]);
    await expectEventually(async () =>
      expect(await ledger()).toMatchObject({ 'KS-31': 'AWAITING_RESULT', 'KS-33': 'SYNCED' }),
    );
    await qr.commitTransaction();
    await qr.release();
    expect(await outcomes).toEqual([
      'applied',
      'applied',
      'duplicate',
      'applied',
      'unknown',
      'applied',
      'settled',
    ]);
    const written = await ctx.sql.query<{ key: string; tx: string; code: string | null }>(
      `select message_key key, tx, payload->'portalStage'->>'code' code from outbox_status
       where payload->>'state' in ('AWAITING_RESULT', 'SYNCED') and payload ? 'portalStage' or payload->>'state' = 'SYNCED'
       order by message_key`,
    );
    const tx = Object.fromEntries(written.map((w) => [w.key.replace('civil-status:', ''), w.tx]));
    expect(Object.keys(tx)).toEqual(['KS-30', 'KS-31', 'KS-32', 'KS-33']);
    // KS-31's and KS-33's in one transaction; KS-30's (first) and KS-32's (held) each alone.
    expect(tx['KS-31']).toBe(tx['KS-33']);
    expect(new Set([tx['KS-30'], tx['KS-31'], tx['KS-32']]).size).toBe(3);
    expect(poller.stats.facts).toBe(4);
  });

  it('a round yields while submissions wait for a push slot, for at most maxYieldMs after the last round', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher } = world(registry);
    await ingest.ingest(ds.manager, [birth('KS-71', 1), birth('KS-72', 1)]);
    await dispatcher.runOnce();
    let backlog = false;
    const poller = (maxYieldMs: number) =>
      pollerFor(registry, { yieldTo: () => backlog, maxYieldMs });
    const patient = poller(600_000);
    // No backlog: a round asks at once (nobody answers, so both are due again at once).
    expect(await patient.runOnce()).toBe(2);
    backlog = true;
    expect(await patient.runOnce()).toBe(0);
    expect(registry.asked).toHaveLength(1);
    backlog = false;
    expect(await patient.runOnce()).toBe(2);
    expect(registry.asked).toHaveLength(2);

    // A backlog that lasts: a round still runs once maxYieldMs has passed since the last one.
    backlog = true;
    const brief = poller(200);
    expect(await brief.runOnce()).toBe(2);
    const yieldedAt = Date.now();
    expect(await brief.runOnce()).toBe(0);
    await expectEventually(async () => expect(await brief.runOnce()).toBe(2), { intervalMs: 20 });
    expect(Date.now() - yieldedAt).toBeGreaterThanOrEqual(150);
    expect(registry.asked).toHaveLength(4);
    // Without a bound (0, the default), rounds never wait.
    expect(await poller(0).runOnce()).toBe(2);
  });

  it('a part that arrives while the portal works is pushed, and the wait goes on where it was', async () => {
    const registry = new ScriptedRegistry();
    const { dispatcher, poller } = world(registry);
    await ingest.ingest(ds.manager, [birth('KS-6', 1)]);
    await dispatcher.runOnce();
    await poller.runOnce();
    const [before] = await ctx.sql.query<{ since: Date; polls: number }>(
      'select awaiting_since since, polls from sync_entity',
    );
    await ingest.ingest(ds.manager, [
      {
        ...birth('KS-6', 2),
        kind: 'part',
        partKey: 'amendment-1',
        payload: { truong: 'nksHoTen' },
      },
    ]);
    expect(await ledger()).toEqual({ 'KS-6': 'PENDING' });
    await dispatcher.runOnce();
    expect(await ledger()).toEqual({ 'KS-6': 'AWAITING_RESULT' });
    const [after] = await ctx.sql.query<{ since: Date; polls: number; pushed: number }>(
      `select awaiting_since since, polls, (select count(*)::int from sync_entity_part where pushed_at is not null) pushed
       from sync_entity`,
    );
    expect(after).toEqual({ since: before?.since, polls: before?.polls, pushed: 1 });
    expect(registry.submitted).toEqual(['KS-6', 'KS-6']);
  });
});
