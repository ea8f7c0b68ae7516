import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { EVENT_TYPES } from '@lienthong/contracts';
import {
  FIXTURE_COMMUNES,
  Rng,
  dossierLifecycle,
  expectEventually,
  lifecycleRecords,
  portalAdmin,
  toRecord,
  useTestContext,
} from '@lienthong/testing';
import { runningMonth } from '@lienthong/sync-engine';
import type { DossierLifecycle } from '@lienthong/testing';
import { monitoredWorld } from './monitor-harness';

interface CommuneRow {
  provinceCode: string;
  communeCode: string;
  domain: string;
  entities: number;
  synced: number;
  backlog: Record<string, number>;
  oldestUnsyncedAt: string | null;
  lastSyncedAt: string | null;
  deadLetters: number;
}

const HUE = FIXTURE_COMMUNES.filter((c) => c.provinceCode === '46');
const HCM = FIXTURE_COMMUNES.filter((c) => c.provinceCode === '79');

describe('sync-monitor: the read model, the ops API and its roles, real processes', () => {
  const ctx = useTestContext('sync_monitor');

  it('shows each commune its sync (backlog rising in an outage, falling after), timelines and dead letters, scoped to the operator’s provinces; acts only where allowed; a crash loses and doubles nothing', async () => {
    const { world, driver, monitor } = await monitoredWorld(ctx, 'monitor');

    // Sign-in: a wrong password and no token are refused, as problem details.
    const wrong = await monitor.call('POST', '/api/session', undefined, {
      username: 'hue',
      password: 'not-it',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.type).toContain('application/problem+json');
    expect((await monitor.call('GET', '/api/communes')).status).toBe(401);
    const national = await monitor.token('quocgia');
    const hue = await monitor.token('hue');
    const hueViewer = await monitor.token('hue-xem');

    // Dossiers of two Huế communes and one Hồ Chí Minh City commune, synced.
    const rng = new Rng(1207);
    let n = 0;
    const lives = (communes: typeof HUE, count: number): DossierLifecycle[] =>
      communes.flatMap((commune) =>
        Array.from({ length: count }, () =>
          dossierLifecycle(rng, { commune, number: (n += 1), endAt: 4 }),
        ),
      );
    const hueLives = lives(HUE, 6);
    const hcmLives = lives(HCM.slice(0, 1), 5);
    await world.produce([...hueLives, ...hcmLives].flatMap((l) => lifecycleRecords(l)));
    await world.waitForLedger({ SYNCED: hueLives.length + hcmLives.length }, 120_000);

    const communes = async (token: string, query = '') =>
      (await monitor.get<{ communes: CommuneRow[] }>(`/api/communes${query}`, token)).communes;
    const byCommune = (rows: Array<{ communeCode: string }>) =>
      [...rows].sort((x, y) => x.communeCode.localeCompare(y.communeCode));
    const expected = byCommune(
      [...new Set([...hueLives, ...hcmLives].map((l) => l.commune.code))].map((communeCode) => {
        const count = [...hueLives, ...hcmLives].filter(
          (l) => l.commune.code === communeCode,
        ).length;
        return { communeCode, synced: count, entities: count };
      }),
    );
    await expectEventually(async () => {
      const rows = await communes(national);
      expect(
        byCommune(
          rows.map((r) => ({ communeCode: r.communeCode, synced: r.synced, entities: r.entities })),
        ),
      ).toEqual(expected);
      expect(rows.filter((r) => r.lastSyncedAt === null || r.oldestUnsyncedAt !== null)).toEqual(
        [],
      );
    });
    // Prometheus sees the same figures (for alerts and deploy/grafana/lienthong.json).
    const metrics = await (await fetch(await monitor.process.url('/metrics'))).text();
    expect(metrics).toContain(
      `lienthong_monitor_entities{province="46",domain="dossier",state="SYNCED",service="sync-monitor"} ${hueLives.length}`,
    );
    // A Huế operator sees Huế only; asking for another province is refused.
    expect((await communes(hue)).map((r) => r.provinceCode)).toEqual(HUE.map(() => '46'));
    const other = await monitor.call('GET', '/api/communes?province=79', hue);
    expect(other.status).toBe(403);
    expect(other.type).toContain('application/problem+json');

    // One dossier's whole story; someone else's province is refused.
    const one = hueLives[0] as DossierLifecycle;
    const story = await monitor.get<{
      state: { state: string; communeCode: string };
      timeline: Array<{ state: string; sequence: number }>;
    }>(`/api/entities/dossier/${encodeURIComponent(one.code)}`, hue);
    expect(story.state).toMatchObject({ state: 'SYNCED', communeCode: one.commune.code });
    expect(story.timeline.map((t) => t.state)).toContain('ACCEPTED');
    expect(story.timeline.at(-1)?.state).toBe('SYNCED');
    // Its pushes' exchanges with DVCQG: operation, outcome and digests of both bodies.
    await expectEventually(async () => {
      const { exchanges } = await monitor.get<{
        exchanges: Array<{ operation: string; outcome: string; requestSha256: string | null }>;
      }>(`/api/entities/dossier/${encodeURIComponent(one.code)}`, hue);
      expect(exchanges.length).toBeGreaterThan(0);
      expect(exchanges.filter((x) => x.outcome === 'success').length).toBeGreaterThan(0);
      expect(exchanges.every((x) => /^[0-9a-f]{64}$/.test(x.requestSha256 ?? ''))).toBe(true);
    });
    const hcmOne = hcmLives[0] as DossierLifecycle;
    expect(
      (await monitor.call('GET', `/api/entities/dossier/${encodeURIComponent(hcmOne.code)}`, hue))
        .status,
    ).toBe(403);

    // A broken event of a Huế commune: one dead-letter group, with its field and rule.
    const broken = dossierLifecycle(rng, { commune: HUE[0], number: (n += 1), endAt: 2 });
    await world.produce([
      toRecord({
        name: '',
        type: EVENT_TYPES.DossierUpserted,
        topic: '',
        data: { ...broken.final, TrangThaiHoSo: 42 },
        communeCode: broken.commune.code,
        sequence: 1,
      }),
    ]);
    await expectEventually(async () => {
      const { groups } = await monitor.get<{
        groups: Array<{ code: string; field: string; rule: string; open: number }>;
      }>('/api/dead-letters', hue);
      expect(groups).toEqual([expect.objectContaining({ field: 'TrangThaiHoSo', open: 1 })]);
      const huế = (await communes(hue)).find((r) => r.communeCode === broken.commune.code);
      expect(huế?.deadLetters).toBe(1);
    });
    const hcmOperator = await monitor.token('hcm');
    expect(
      (await monitor.get<{ groups: unknown[] }>('/api/dead-letters', hcmOperator)).groups,
    ).toEqual([]);

    // Replay: the group goes back to dossier-sync, which answers; the letter, still broken, fails
    // again and comes back as a new open letter of the same group. Then it is discarded.
    type Group = { signature: string; open: number; replayed: number; discarded: number };
    const groups = async () =>
      (await monitor.get<{ groups: Group[] }>('/api/dead-letters', hue)).groups;
    const [group] = await groups();
    const replay = await monitor.call<{ commandId: string; letters: number }>(
      'POST',
      '/api/commands/replay-dead-letters',
      hue,
      { signature: group?.signature, reason: 'Thử gửi lại sau khi sửa dữ liệu' },
    );
    expect(replay.status).toBe(202);
    expect(replay.body.letters).toBe(1);
    await expectEventually(
      async () =>
        expect(await groups()).toEqual([expect.objectContaining({ open: 1, replayed: 1 })]),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const answered = await monitor.get<{
      commands: Array<{ commandId: string; answers: Array<{ service: string; outcome: string }> }>;
    }>('/api/commands', hue);
    expect(answered.commands.find((c) => c.commandId === replay.body.commandId)?.answers).toEqual([
      expect.objectContaining({ service: 'dossier-sync', outcome: 'done' }),
    ]);
    expect(
      (
        await monitor.call('POST', '/api/commands/discard-dead-letters', hueViewer, {
          signature: group?.signature,
          reason: 'Dữ liệu sai, xã đã nhập lại',
        })
      ).status,
    ).toBe(403);
    const discard = await monitor.call<{ discarded: number }>(
      'POST',
      '/api/commands/discard-dead-letters',
      hue,
      { signature: group?.signature, reason: 'Dữ liệu sai, xã đã nhập lại' },
    );
    expect(discard.body).toEqual({ discarded: 1 });
    expect(await groups()).toEqual([
      expect.objectContaining({ open: 0, replayed: 1, discarded: 1 }),
    ]);

    // DVCQG goes down: the commune's backlog rises and ages; it comes back: the backlog drains.
    await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', { down: true });
    const during = lives(HUE.slice(0, 1), 4);
    await world.produce(during.flatMap((l) => lifecycleRecords(l)));
    const commune = (HUE[0] as { code: string }).code;
    const row = async () => (await communes(hue)).find((r) => r.communeCode === commune);
    await expectEventually(
      async () => {
        const r = await row();
        const waiting = Object.values(r?.backlog ?? {}).reduce((a, b) => a + b, 0);
        expect(waiting).toBeGreaterThanOrEqual(during.length);
        expect(r?.oldestUnsyncedAt).not.toBeNull();
      },
      { timeoutMs: 60_000 },
    );
    await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', {});
    await expectEventually(
      async () => {
        const r = await row();
        expect(r).toMatchObject({ synced: r?.entities, oldestUnsyncedAt: null });
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    // The portal over time: its calls per minute, the outage's failures among them, latency
    // percentiles of the calls that reached it.
    await expectEventually(async () => {
      const { minutes } = await monitor.get<{
        minutes: Array<{ target: string; calls: number; errors: number; p95Ms: number | null }>;
      }>('/api/portals?hours=1', hue);
      const dvcqg = minutes.filter((m) => m.target === 'dvcqg');
      const total = (k: 'calls' | 'errors') => dvcqg.reduce((n, m) => n + m[k], 0);
      expect(total('errors')).toBeGreaterThan(0);
      expect(total('calls')).toBeGreaterThan(total('errors'));
      expect(dvcqg.some((m) => m.p95Ms !== null)).toBe(true);
    });
    expect((await monitor.call('GET', '/api/portals?hours=500', hue)).status).toBe(400);

    // A national operator pauses DVCQG (a province operator may not): changes wait, the portal
    // is reported paused; resumed, they drain. dossier-sync answers both commands.
    const target = (action: string, token: string) =>
      monitor.call<{ commandId: string }>('POST', `/api/commands/${action}`, token, {
        target: 'dvcqg',
        reason: 'Cổng DVCQG bảo trì theo lịch',
      });
    expect((await target('pause-target', hue)).status).toBe(403);
    const paused = await target('pause-target', national);
    expect(paused.status).toBe(202);
    const reported = async () =>
      (
        await monitor.get<{ targets: Array<{ target: string; paused: boolean }> }>(
          '/api/targets',
          national,
        )
      ).targets;
    await expectEventually(
      async () => expect(await reported()).toEqual([expect.objectContaining({ paused: true })]),
      { timeoutMs: 30_000 },
    );
    const whilePaused = lives(HUE.slice(0, 1), 2);
    await world.produce(whilePaused.flatMap((l) => lifecycleRecords(l)));
    await expectEventually(async () => {
      const r = await row();
      expect((r?.entities ?? 0) - (r?.synced ?? 0)).toBe(whilePaused.length);
    });
    expect(await world.ledgerStates()).toMatchObject({ PENDING: whilePaused.length });
    const resumed = await target('resume-target', national);
    expect(resumed.status).toBe(202);
    await expectEventually(
      async () => {
        const r = await row();
        expect(r).toMatchObject({ synced: r?.entities, oldestUnsyncedAt: null });
        expect(await reported()).toEqual([expect.objectContaining({ paused: false })]);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const { commands: answeredTargets } = await monitor.get<{
      commands: Array<{ commandId: string; answers: Array<{ outcome: string; detail: string }> }>;
    }>('/api/commands', national);
    for (const c of [paused, resumed])
      expect(answeredTargets.find((x) => x.commandId === c.body.commandId)?.answers).toEqual([
        expect.objectContaining({ outcome: 'done' }),
      ]);

    // A command older than its validity (a new deployment reading the topic from its start, an
    // instance back from a long outage) is answered refused and not carried out.
    const stale = {
      commandId: randomUUID(),
      command: 'pause-target' as const,
      operator: { id: 'quocgia' },
      reason: 'Bảo trì tuần trước',
      requestedAt: new Date(Date.now() - 2 * 3_600_000).toISOString(),
      target: 'dvcqg' as const,
    };
    await driver.send(stale);
    await expectEventually(async () => {
      const answers = await ctx.sql.query<{ outcome: string; detail: string }>(
        `select outcome, detail from "${monitor.schema}".command_result where command_id = $1`,
        [stale.commandId],
      );
      expect(answers.map((a) => [a.outcome, a.detail.split(':')[0]])).toEqual([
        ['refused', 'expired'],
      ]);
    });
    expect(await reported()).toEqual([expect.objectContaining({ paused: false })]);
    expect(await ctx.sql.query(`select 1 from "${world.syncSchema}".target_pause`)).toEqual([]);

    // Actions: a viewer cannot act; an operator cannot act outside their provinces; inside they
    // can, the sync service runs it, and its progress reaches the monitor. All audited.
    const reconcile = (token: string, communeCodes: string[]) =>
      monitor.call<{ commandId?: string; detail?: string }>(
        'POST',
        '/api/commands/reconcile',
        token,
        {
          scope: { domain: 'dossier', communeCodes },
          dryRun: true,
          reason: 'Đối soát kiểm tra sau sự cố',
        },
      );
    expect((await reconcile(hueViewer, [commune])).status).toBe(403);
    const outside = await reconcile(hue, [(HCM[0] as { code: string }).code]);
    expect(outside.status).toBe(403);
    expect(outside.type).toContain('application/problem+json');
    expect(outside.body.detail).toMatch(/outside your provinces/);
    const inside = await reconcile(hue, [commune]);
    expect(inside.status).toBe(202);
    const runs = async () =>
      (
        await monitor.get<{ runs: Array<{ status: string; total: number; checked: number }> }>(
          '/api/reconcile-runs',
          hue,
        )
      ).runs;
    const inCommune = [...hueLives, ...during, ...whilePaused].filter(
      (l) => l.commune.code === commune,
    ).length;
    await expectEventually(
      async () =>
        expect(await runs()).toEqual([
          expect.objectContaining({ status: 'finished', total: inCommune, checked: inCommune }),
        ]),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const audit = await ctx.sql.query<{ operator: string; outcome: string }>(
      `select operator, outcome from "${monitor.schema}".audit_log order by id`,
    );
    expect(audit).toEqual([
      { operator: 'hue', outcome: 'sent' },
      { operator: 'hue-xem', outcome: 'refused' },
      { operator: 'hue', outcome: 'done' },
      { operator: 'hue', outcome: 'refused' },
      { operator: 'quocgia', outcome: 'sent' },
      { operator: 'quocgia', outcome: 'sent' },
      { operator: 'hue-xem', outcome: 'refused' },
      { operator: 'hue', outcome: 'refused' },
      { operator: 'hue', outcome: 'sent' },
    ]);

    // The dashboard: a browser without a session goes to the sign-in page; signed in, it sees
    // its communes (and not the others') and a dossier's timeline.
    const page = async (path: string, cookie?: string) => {
      const res = await fetch(await monitor.process.url(path), {
        redirect: 'manual',
        headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) },
      });
      return { status: res.status, location: res.headers.get('location'), html: await res.text() };
    };
    expect(await page('/')).toMatchObject({ status: 303, location: '/login' });
    const signIn = await fetch(await monitor.process.url('/login'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=hue&password=hue-demo',
    });
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const overview = await page('/', cookie);
    expect(overview.status).toBe(200);
    for (const c of HUE) expect(overview.html).toContain(`data-commune="${c.code}"`);
    expect(overview.html).not.toContain(`data-commune="${(HCM[0] as { code: string }).code}"`);
    const timeline = await page(`/entities/dossier/${encodeURIComponent(one.code)}`, cookie);
    expect(timeline.html).toContain('id="timeline"');
    expect(timeline.html).toContain('SYNCED');
    expect(
      (await page(`/entities/dossier/${encodeURIComponent(hcmOne.code)}`, cookie)).status,
    ).toBe(403);

    // A crash of sync-monitor loses nothing and counts nothing twice.
    const before = await communes(national);
    const events = await ctx.sql.query<{ n: number }>(
      `select count(*)::int n from "${monitor.schema}".entity_event`,
    );
    await monitor.process.kill();
    await monitor.process.start();
    const token = await monitor.token('quocgia');
    expect(await communes(token)).toEqual(before);
    expect(
      await ctx.sql.query<{ n: number }>(
        `select count(*)::int n from "${monitor.schema}".entity_event`,
      ),
    ).toEqual(events);
  });

  it('re-syncs a scope in full and pauses a commune while its neighbours sync, each answered and scoped to the operator’s provinces', async () => {
    const { world, monitor } = await monitoredWorld(ctx, 'hands');
    const national = await monitor.token('quocgia');
    const hue = await monitor.token('hue');
    const rng = new Rng(3108);
    let n = 0;
    const lives = (commune: (typeof HUE)[0], count: number): DossierLifecycle[] =>
      Array.from({ length: count }, () =>
        dossierLifecycle(rng, { commune, number: (n += 1), endAt: 4 }),
      );
    const [a, b] = HUE as [(typeof HUE)[0], (typeof HUE)[0]];
    const first = [...lives(a, 4), ...lives(b, 4)];
    await world.produce(first.flatMap((l) => lifecycleRecords(l)));
    await world.waitForLedger({ SYNCED: first.length }, 120_000);

    const answersTo = async (commandId: string) =>
      expectEventually(async () => {
        const rows = await ctx.sql.query<{ outcome: string; detail: string }>(
          `select outcome, detail from "${monitor.schema}".command_result where command_id = $1`,
          [commandId],
        );
        expect(rows).toHaveLength(1);
        return rows;
      });
    const writes = async () =>
      (
        (await portalAdmin(world.sim, 'GET', '/effects/totals?api=dvcqg')) as Array<{
          operation: string;
          writes: number;
        }>
      ).reduce((sum, t) => sum + t.writes, 0);

    // Re-sync of commune a: refused outside the operator's provinces; inside, a's dossiers are
    // pushed again in full (the portal sees new writes), and all end SYNCED again.
    const resync = (token: string, communeCodes: string[]) =>
      monitor.call<{ commandId: string }>('POST', '/api/commands/resync', token, {
        scope: { domain: 'dossier', communeCodes },
        reason: 'Cổng DVCQG báo mất dữ liệu, đồng bộ lại',
      });
    const outside = await resync(hue, [(HCM[0] as { code: string }).code]);
    expect(outside.status).toBe(403);
    expect(outside.type).toContain('application/problem+json');
    const writesBefore = await writes();
    const resynced = await resync(hue, [a.code]);
    expect(resynced.status).toBe(202);
    expect(await answersTo(resynced.body.commandId)).toEqual([
      { outcome: 'done', detail: '4 entities due for a full push to dvcqg' },
    ]);
    await world.waitForLedger({ SYNCED: first.length }, 60_000);
    expect(await writes()).toBeGreaterThanOrEqual(writesBefore + 4);

    // Pause commune a: its new dossiers wait while b's sync; the matrix says so; resumed, they sync.
    const communesAction = (action: string, token: string, communeCodes: string[]) =>
      monitor.call<{ commandId: string }>('POST', `/api/commands/${action}`, token, {
        communeCodes,
        domain: 'dossier',
        reason: 'Xã đang chỉnh lý dữ liệu hồ sơ',
      });
    expect(
      (await communesAction('pause-communes', hue, [(HCM[0] as { code: string }).code])).status,
    ).toBe(403);
    const paused = await communesAction('pause-communes', hue, [a.code]);
    expect(paused.status).toBe(202);
    expect((await answersTo(paused.body.commandId))[0]?.outcome).toBe('done');
    const second = [...lives(a, 3), ...lives(b, 3)];
    await world.produce(second.flatMap((l) => lifecycleRecords(l)));
    const communeRows = async (token: string) =>
      (await monitor.get<{ communes: CommuneRow[] }>('/api/communes?domain=dossier', token))
        .communes;
    await expectEventually(
      async () => {
        const rows = await communeRows(hue);
        expect(rows.find((r) => r.communeCode === b.code)).toMatchObject({
          entities: 7,
          synced: 7,
        });
        expect(rows.find((r) => r.communeCode === a.code)).toMatchObject({
          entities: 7,
          synced: 4,
          paused: expect.objectContaining({ by: 'hue' }) as unknown,
        });
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(await world.ledgerStates()).toEqual({ SYNCED: 11, PENDING: 3 });
    const pausedList = async (token: string) =>
      (
        await monitor.get<{ communes: Array<{ communeCode: string; domain: string }> }>(
          '/api/paused-communes',
          token,
        )
      ).communes;
    expect(await pausedList(national)).toEqual([
      expect.objectContaining({ communeCode: a.code, domain: 'dossier' }),
    ]);
    const resumed = await communesAction('resume-communes', hue, [a.code]);
    expect(resumed.status).toBe(202);
    expect(await answersTo(resumed.body.commandId)).toEqual([
      { outcome: 'done', detail: 'communes resumed for dvcqg: 1' },
    ]);
    await world.waitForLedger({ SYNCED: 14 }, 60_000);
    expect(await pausedList(national)).toEqual([]);

    // Decision 766: dossiers received this month in b, all returned: counted by dossier-sync from
    // its ledger, shown by the monitor with their rates.
    const thisMonth = runningMonth(new Date());
    const returned = Array.from({ length: 3 }, () =>
      dossierLifecycle(rng, { commune: b, number: (n += 1), submittedOn: thisMonth.from }),
    );
    await world.produce(returned.flatMap((l) => lifecycleRecords(l)));
    await world.waitForLedger({ SYNCED: 17 }, 60_000);
    const online = returned.filter((l) => l.final.KenhThucHien === 2).length;
    await expectEventually(
      async () => {
        const { communes: rows, definitions } = await monitor.get<{
          definitions: Record<string, string>;
          communes: Array<{
            communeCode: string;
            period: { from: string; to: string };
            counts: Record<string, number>;
            rates: Record<string, number | null>;
          }>;
        }>('/api/indicators', hue);
        expect(Object.keys(definitions)).toContain('onTimeRate');
        const row = rows.find((r) => r.communeCode === b.code);
        expect(row?.period).toEqual({ from: thisMonth.from, to: thisMonth.to });
        expect(row?.counts).toMatchObject({ received: 3, synced: 3, online, stopped: 0 });
        const c = row?.counts ?? {};
        expect((c.finishedEarly ?? 0) + (c.finishedOnTime ?? 0) + (c.finishedLate ?? 0)).toBe(3);
        expect(row?.rates.syncRate).toBe(100);
        expect(row?.rates.onlineShare).toBe(Math.round((10_000 * online) / 3) / 100);
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );

    // Whatever a client posts, the ops API answers with a problem (the field and the rule) or
    // takes the command — never a 500, never a stack trace.
    const plausible = fc.record(
      {
        communeCodes: fc.oneof(fc.array(fc.oneof(fc.string(), fc.integer())), fc.string()),
        domain: fc.oneof(fc.constantFrom('dossier', 'land', 'x'), fc.integer()),
        reason: fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null)),
        scope: fc.oneof(fc.jsonValue(), fc.record({ communeCodes: fc.array(fc.string()) })),
        dryRun: fc.oneof(fc.boolean(), fc.string()),
        target: fc.oneof(fc.constantFrom('dvcqg', 'nowhere'), fc.integer()),
        signature: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)),
        ratePerSecond: fc.oneof(fc.double(), fc.string()),
      },
      { requiredKeys: [] },
    );
    const routes = [
      'session',
      'commands/reconcile',
      'commands/resync',
      'commands/pause-communes',
      'commands/resume-communes',
      'commands/pause-target',
      'commands/replay-dead-letters',
      'commands/discard-dead-letters',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(plausible, fc.jsonValue()),
        async (route, body) => {
          const answer = await monitor.call('POST', `/api/${route}`, hue, body);
          expect(answer.status).not.toBe(500);
          if (answer.status >= 400) expect(answer.type).toContain('application/problem+json');
        },
      ),
      { numRuns: 300 },
    );
    for (const raw of ['{"communeCodes": [', 'not json', '\u0000'.repeat(10)]) {
      const res = await fetch(await monitor.process.url('/api/commands/resync'), {
        method: 'POST',
        headers: { authorization: `Bearer ${hue}`, 'content-type': 'application/json' },
        body: raw,
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });
});
