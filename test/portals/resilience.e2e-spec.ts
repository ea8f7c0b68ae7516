import { DvcqgClient, LandClient, keepAliveAgent } from '@lienthong/portal-clients';
import { PortalCallError } from '@lienthong/resilience';
import type { BreakerStateChange } from '@lienthong/resilience';
import {
  Rng,
  dossierLifecycle,
  expectEventually,
  landRegistrationReceived,
  useTestContext,
} from '@lienthong/testing';
import type { ServiceProcess } from '@lienthong/testing';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { admin, gatewayFor, startPortalSim } from './portal-harness';

describe('resilience against a misbehaving portal-sim', () => {
  const ctx = useTestContext('resilience');
  const rng = new Rng(7);
  let sim: ServiceProcess;
  let base: string;

  beforeAll(async () => {
    sim = await startPortalSim(ctx);
    base = await sim.url();
  });

  beforeEach(async () => {
    for (const api of ['dvcqg', 'civil-status', 'land'])
      await admin(sim, 'PUT', `/faults/${api}`, {});
  });

  it('opens the breaker in an outage, fails fast while open, probes, and closes on recovery', async () => {
    const h = await gatewayFor(ctx, 'dvcqg', {
      breaker: {
        timeoutMs: 2000,
        volumeThreshold: 5,
        errorThresholdPercentage: 50,
        resetTimeoutMs: 1000,
        rollingCountTimeoutMs: 10_000,
      },
    });
    const events: BreakerStateChange[] = [];
    h.gateway.on('breaker-state', (e: BreakerStateChange) => events.push(e));
    const client = new DvcqgClient(
      { baseUrl: base, username: 'lienthong', password: 'lienthong-dvcqg', unitCode: 'H56.14' },
      h.gateway,
    );
    const life = dossierLifecycle(rng, { endAt: 2 });
    await client.upsertDossier(life.final, 'warm-up');

    await admin(sim, 'PUT', '/faults/dvcqg', { down: true });
    // The window already holds the warm-up's successful lookup: 4 failures make 5 calls (the
    // volume threshold) at 80 % failures (over the 50 % threshold), and the breaker opens.
    const failures: string[] = [];
    while (h.gateway.breakerState('TraCuuHoSo') !== 'open' && failures.length < 10) {
      const err = (await client
        .lookup(life.code, `outage-${failures.length}`)
        .catch((e: unknown) => e)) as PortalCallError;
      failures.push(`${err.outcome}:${err.code}`);
    }
    expect(failures).toEqual(Array.from({ length: 4 }, () => 'retriable:PORTAL_UNAVAILABLE'));

    // Open: answered at once, the portal is not called.
    const started = Date.now();
    await expect(client.lookup(life.code, 'while-open')).rejects.toMatchObject({
      outcome: 'deferred',
      code: 'BREAKER_OPEN',
    });
    expect(Date.now() - started).toBeLessThan(100);
    expect(await h.registry.getSingleMetricAsString('lienthong_portal_breaker_state')).toContain(
      'operation="TraCuuHoSo"} 2',
    );

    // Half-open probe while still down: open again.
    await expectEventually(() => expect(h.gateway.breakerState('TraCuuHoSo')).toBe('half-open'), {
      timeoutMs: 5000,
    });
    await expect(client.lookup(life.code, 'probe-down')).rejects.toMatchObject({
      outcome: 'retriable',
    });
    expect(h.gateway.breakerState('TraCuuHoSo')).toBe('open');

    // Recovery: the next probe succeeds and closes it.
    await admin(sim, 'PUT', '/faults/dvcqg', {});
    await expectEventually(() => expect(h.gateway.breakerState('TraCuuHoSo')).toBe('half-open'), {
      timeoutMs: 5000,
    });
    expect((await client.lookup(life.code, 'probe-up'))?.header.MaHoSo).toBe(life.code);
    expect(h.gateway.breakerState('TraCuuHoSo')).toBe('closed');
    expect(events.filter((e) => e.operation === 'TraCuuHoSo').map((e) => e.state)).toEqual([
      'open',
      'half-open',
      'open',
      'half-open',
      'closed',
    ]);
    expect(await h.registry.getSingleMetricAsString('lienthong_portal_breaker_state')).toContain(
      'operation="TraCuuHoSo"} 0',
    );

    await h.recorder.flush();
    const outcomes = await ctx.sql.query<{ outcome: string; n: string }>(
      `select outcome, count(*) n from portal_exchange where correlation_id in ('while-open') group by outcome`,
    );
    expect(outcomes).toEqual([{ outcome: 'deferred', n: '1' }]);
  });

  it('never opens on a flood of rejections: business errors (HTTP 200) and HTTP 4xx', async () => {
    const h = await gatewayFor(ctx, 'mixed', {
      breaker: {
        timeoutMs: 2000,
        volumeThreshold: 5,
        errorThresholdPercentage: 10,
        resetTimeoutMs: 60_000,
        rollingCountTimeoutMs: 10_000,
      },
    });
    const dvcqg = new DvcqgClient(
      { baseUrl: base, username: 'lienthong', password: 'lienthong-dvcqg', unitCode: 'H56.14' },
      h.gateway,
    );
    const land = new LandClient(
      { baseUrl: base, username: 'lienthong', password: 'lienthong-land' },
      h.gateway,
    );
    const kinds = new Set<string>();
    for (let i = 0; i < 30; i += 1) {
      const bad = {
        ...dossierLifecycle(rng, { endAt: 2 }).final,
        NgayHenTra: '2025-01-01T00:00:00+07:00',
      };
      const e1 = (await dvcqg
        .upsertDossier(bad, `bad-${i}`)
        .catch((e: unknown) => e)) as PortalCallError;
      const e2 = (await land
        .receive(
          { ...landRegistrationReceived(rng), ThongTinThuaDat: [] as never },
          'code',
          `bad-land-${i}`,
        )
        .catch((e: unknown) => e)) as PortalCallError;
      kinds.add(`${e1.outcome}:${e1.httpStatus ?? 200}`).add(`${e2.outcome}:${e2.httpStatus}`);
    }
    expect(kinds).toEqual(new Set(['permanent:200', 'permanent:400']));
    expect(h.gateway.breakerState('DongBoHoSoMC')).toBe('closed');
    expect(h.gateway.breakerState('TiepNhanHoSo')).toBe('closed');
  });

  it('respects 429 Retry-After: no call to the portal before the time it gave', async () => {
    await admin(sim, 'PUT', '/faults/dvcqg', { rateLimit: { perSecond: 1, burst: 1 } });
    const h = await gatewayFor(ctx, 'dvcqg-limited');
    const agent = keepAliveAgent(2);
    const successes: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      await h.gateway.call(
        'auth',
        async (ctx2) => {
          const res = await request(`${base}/dvcqg/auth`, {
            method: 'POST',
            dispatcher: agent,
            signal: ctx2.signal,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: 'lienthong', password: 'lienthong-dvcqg' }),
          });
          await res.body.text();
          ctx2.note({ httpStatus: res.statusCode });
          if (res.statusCode === 429) {
            throw new PortalCallError('PORTAL_RATE_LIMITED', '429', {
              httpStatus: 429,
              retryAfterMs: Number(res.headers['retry-after']) * 1000,
            });
          }
        },
        { correlationId: `limited-${i}`, retry: true },
      );
      successes.push(Date.now());
    }
    const gaps = successes.slice(1).map((t, i) => t - (successes[i] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900);

    await h.recorder.flush();
    const rows = await ctx.sql.query<{ started: Date; status: number }>(
      `select started_at started, http_status status from portal_exchange where correlation_id like 'limited-%' order by id`,
    );
    const limited = rows.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      const next = rows[rows.indexOf(r) + 1];
      if (next) expect(next.started.getTime() - r.started.getTime()).toBeGreaterThanOrEqual(1000);
    }
    expect(h.gateway.breakerState('auth')).toBe('closed');
    await agent.close();
  });

  it('classifies every injected fault: malformed body, reset, timeout, outage window; and drift changes what the portal holds', async () => {
    const h = await gatewayFor(ctx, 'dvcqg-faults', {
      breaker: {
        timeoutMs: 800,
        volumeThreshold: 1000,
        errorThresholdPercentage: 50,
        resetTimeoutMs: 1000,
        rollingCountTimeoutMs: 10_000,
      },
    });
    const client = new DvcqgClient(
      { baseUrl: base, username: 'lienthong', password: 'lienthong-dvcqg', unitCode: 'H56.14' },
      h.gateway,
    );
    const life = dossierLifecycle(rng, { endAt: 2 });
    await client.upsertDossier(life.final, 'fault-setup');
    const failureOf = async (profile: object) => {
      await admin(sim, 'PUT', '/faults/dvcqg', profile);
      const err = (await client
        .lookup(life.code, 'fault')
        .catch((e: unknown) => e)) as PortalCallError;
      await admin(sim, 'PUT', '/faults/dvcqg', {});
      return `${err.outcome}:${err.code}`;
    };
    expect(await failureOf({ errorRates: { malformed: 1 } })).toBe(
      'retriable:PORTAL_MALFORMED_RESPONSE',
    );
    expect(await failureOf({ errorRates: { reset: 1 } })).toBe(
      'retriable:PORTAL_CONNECTION_FAILED',
    );
    expect(await failureOf({ errorRates: { timeout: 1 }, timeoutHoldMs: 3000 })).toBe(
      'retriable:PORTAL_TIMEOUT',
    );
    expect(await failureOf({ errorRates: { http5xx: 1 } })).toBe('retriable:PORTAL_UNAVAILABLE');

    const now = Date.now();
    await admin(sim, 'PUT', '/faults/dvcqg', {
      outages: [
        { from: new Date(now - 1000).toISOString(), to: new Date(now + 1500).toISOString() },
      ],
    });
    await expect(client.lookup(life.code, 'in-window')).rejects.toMatchObject({
      code: 'PORTAL_UNAVAILABLE',
      httpStatus: 503,
    });
    await expectEventually(
      async () =>
        expect((await client.lookup(life.code, 'after-window'))?.header.MaHoSo).toBe(life.code),
      { timeoutMs: 5000, intervalMs: 250 },
    );
    await admin(sim, 'PUT', '/faults/dvcqg', {});

    await admin(sim, 'PUT', '/faults/dvcqg', { drift: { rate: 1, mode: 'alter' } });
    const drifting = dossierLifecycle(rng, { endAt: 2 });
    await client.upsertDossier(drifting.final, 'drift');
    await admin(sim, 'PUT', '/faults/dvcqg', {});
    expect((await client.lookup(drifting.code, 'drift-check'))?.header.NgayHenTra).not.toBe(
      drifting.final.NgayHenTra,
    );
    expect(
      await admin(sim, 'POST', '/drift/dvcqg', { keys: [drifting.code], mode: 'delete' }),
    ).toEqual({ drifted: [drifting.code] });
    expect(await client.lookup(drifting.code, 'drift-gone')).toBeUndefined();
  });

  it("lets through as many calls at once as the gateway's bulkhead allows (the client's connection pool follows it)", async () => {
    // A stand-in for DVCQG on loopback that holds every service call until released, so the calls
    // in flight at once can be counted where they arrive (a call the client gave up on, its
    // timeout, leaves the count when its connection closes).
    const held: Array<() => void> = [];
    let open = 0;
    let mostAtOnce = 0;
    const server = createServer((req, res) => {
      req.resume();
      const answer = (body: object) => res.end(JSON.stringify(body));
      if (req.url === '/dvcqg/auth')
        return answer({ error_code: '0', session: 's', expires_in: 600 });
      open += 1;
      mostAtOnce = Math.max(mostAtOnce, open);
      res.on('close', () => (open -= 1));
      held.push(() => answer({ error_code: '04', message: 'not found' }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const bulkhead = 24; // above the 16 connections the pool once had whatever the setting said
    const h = await gatewayFor(ctx, 'dvcqg-wide', { maxConcurrent: bulkhead });
    const client = new DvcqgClient(
      { baseUrl: `http://127.0.0.1:${port}`, username: 'u', password: 'p', unitCode: 'H56.14' },
      h.gateway,
    );
    try {
      const lookups = Array.from({ length: bulkhead + 6 }, (_, i) =>
        client.lookup(`H56.14-251201-${String(i).padStart(4, '0')}`, `wide-${i}`),
      );
      // Within the gateway's call timeout (3 s), so none of these has been given up on.
      await expectEventually(() => expect(open).toBe(bulkhead), { timeoutMs: 2_500 });
      // The bulkhead holds the rest back: release the held calls until every lookup has answered.
      let answered = false;
      void Promise.allSettled(lookups).then(() => (answered = true));
      await expectEventually(
        () => {
          held.splice(0).forEach((release) => release());
          expect(answered).toBe(true);
        },
        { timeoutMs: 10_000 },
      );
      expect(await Promise.all(lookups)).toEqual(lookups.map(() => undefined));
      expect(mostAtOnce).toBe(bulkhead);
    } finally {
      // The harness closes with the test context; the stand-in is this test's own.
      held.splice(0).forEach((release) => release());
      await new Promise((done) => server.close(done));
    }
  });
});
