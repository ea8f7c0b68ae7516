import fc from 'fast-check';
import { generateKeyPair, SignJWT } from 'jose';
import { AUTHORITY_HEADER, recordToStructured as structured } from '@lienthong/contracts';
import {
  Rng,
  dossierLifecycle,
  expectEventually,
  lifecycleRecords,
  idpToken,
  startIngestGateway,
  useTestContext,
} from '@lienthong/testing';
import type { DossierLifecycle, ServiceProcess } from '@lienthong/testing';
import { DossierWorld, expectPortalHoldsExactly } from './dossier-harness';

const PROBLEM = /^application\/problem\+json/;

describe('ingest-gateway: commune systems post CloudEvents over HTTP, real processes', () => {
  const ctx = useTestContext('ingest-gateway');

  const startGateway = (world: DossierWorld, name: string, env: Record<string, string> = {}) =>
    startIngestGateway(ctx, world, name, { DOSSIER_TOPIC: world.topic, ...env });

  async function post(
    gateway: ServiceProcess,
    bearer: string | undefined,
    body: unknown,
    contentType = 'application/cloudevents-batch+json',
  ) {
    const res = await fetch(await gateway.url('/v1/events'), {
      method: 'POST',
      headers: {
        'content-type': contentType,
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      retryAfter: res.headers.get('retry-after'),
      body: (text ? JSON.parse(text) : undefined) as Record<string, unknown>,
    };
  }

  it('takes each commune’s events for itself only, checked, deduplicated and on Kafka before 202; dossier-sync syncs them all to DVCQG', async () => {
    const world = await DossierWorld.create(ctx, 'gateway');
    const service = await world.instance('dossier-sync-gw');
    await service.start();
    const gateway = await startGateway(world, 'gw');

    const rng = new Rng(4242);
    const lives = Array.from({ length: 120 }, (_, i) => dossierLifecycle(rng, { number: i + 1 }));
    const byCommune = new Map<string, DossierLifecycle[]>();
    for (const life of lives)
      byCommune.set(life.commune.code, [...(byCommune.get(life.commune.code) ?? []), life]);
    expect(byCommune.size).toBeGreaterThan(3);
    // Each event once (a CloudEvent's id is minted when it is encoded): what the communes post.
    const eventsOf = new Map(lives.map((l) => [l.code, lifecycleRecords(l).map(structured)]));
    const communes = [...byCommune.keys()];
    const [first, second] = communes as [string, string];

    // Without a token, with a forged one, or with a token of another audience: 401.
    expect((await post(gateway, undefined, [])).status).toBe(401);
    const forger = await generateKeyPair('ES256');
    const forged = await new SignJWT({ lienthong_authority: `commune:${first}` })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-sim-1' })
      .setSubject(`commune-${first}`)
      .setIssuer('lienthong-idp-sim')
      .setAudience('lienthong-ingest')
      .setExpirationTime('5m')
      .sign(forger.privateKey);
    const refused = await post(gateway, forged, []);
    expect([refused.status, refused.type]).toEqual([401, expect.stringMatching(PROBLEM)]);
    expect(JSON.stringify(refused.body)).not.toContain(forged);

    // Commune A's system posting a dossier of commune B, alone or hidden in a batch: 403, nothing taken.
    const tokenA = await idpToken(world, `commune-${first}`);
    const ofB = (byCommune.get(second) as DossierLifecycle[])[0] as DossierLifecycle;
    const forBatch = eventsOf.get(ofB.code) as Array<Record<string, unknown>>;
    const ownA = eventsOf.get(
      ((byCommune.get(first) as DossierLifecycle[])[0] as DossierLifecycle).code,
    ) as Array<Record<string, unknown>>;
    const impersonation = await post(gateway, tokenA, [...ownA, ...forBatch]);
    expect([impersonation.status, impersonation.body.code]).toEqual([403, 'FORBIDDEN_COMMUNE']);
    expect(impersonation.type).toMatch(PROBLEM);
    expect(impersonation.body.detail).toContain(
      `commune:${first} may not publish for commune ${second}`,
    );
    // A province system outside the commune's province: 403 as well.
    const otherProvince = ['01', '46', '79'].find((p) => p !== ofB.commune.provinceCode) as string;
    const provinceToken = await idpToken(world, `province-${otherProvince}`);
    expect((await post(gateway, provinceToken, forBatch)).status).toBe(403);

    // A broken contract, named by field and rule; malformed JSON; a wrong content type.
    // A dossier received (NgayTiepNhan) whose due date is set before it.
    const received = forBatch.findLast(
      (e) => (e.data as Record<string, unknown>).NgayTiepNhan !== undefined,
    ) as Record<string, unknown>;
    const broken = { ...received, data: { ...(received.data as object) } };
    (broken.data as Record<string, unknown>).NgayHenTra = '2025-06-01T08:00:00+07:00';
    const tokenB = await idpToken(world, `commune-${second}`);
    const invalid = await post(gateway, tokenB, broken, 'application/cloudevents+json');
    expect([invalid.status, invalid.body.code]).toEqual([422, 'BUSINESS_RULE_VIOLATION']);
    expect(invalid.body.issues).toEqual([
      expect.objectContaining({ field: 'NgayHenTra', rule: 'date-order' }),
    ]);
    expect((await post(gateway, tokenB, '{"specversion":', 'application/json')).status).toBe(400);
    expect((await post(gateway, tokenB, broken, 'text/plain')).status).toBe(415);
    const huge = await post(gateway, tokenB, `[${'"x",'.repeat(300_000)}"x"]`);
    expect([huge.status, huge.body.code]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(world.input.messages).toHaveLength(0);

    // Every commune posts its own dossiers (a commune system may leave out `communecode`); the
    // first commune's through its province's system instead.
    let posted = 0;
    for (const [commune, own] of byCommune) {
      const events = own.flatMap((l) => eventsOf.get(l.code) as Array<Record<string, unknown>>);
      if (commune === first) {
        const province = await idpToken(world, `province-${own[0]?.commune.provinceCode}`);
        const res = await post(gateway, province, events);
        expect([res.status, res.body.accepted]).toEqual([202, events.length]);
      } else {
        for (const e of events) delete e.communecode;
        const res = await post(gateway, await idpToken(world, `commune-${commune}`), events);
        expect([res.status, res.body.accepted, res.body.duplicates]).toEqual([
          202,
          events.length,
          0,
        ]);
      }
      posted += events.length;
    }
    // 202 means on Kafka: every event is there already, each stamped with its publisher.
    expect(world.input.messages.length).toBeLessThanOrEqual(posted);
    await expectEventually(() => expect(world.input.messages).toHaveLength(posted), {
      timeoutMs: 10_000,
    });
    for (const m of world.input.messages) {
      const commune = m.headers.ce_communecode as string;
      expect(m.headers[AUTHORITY_HEADER]).toBe(
        commune === first
          ? `province:${(byCommune.get(first) as DossierLifecycle[])[0]?.commune.provinceCode}`
          : `commune:${commune}`,
      );
    }

    // The same batch again: every event a duplicate, nothing sent again. The same id with other
    // content: 409.
    const again = eventsOf.get(ofB.code) as Array<Record<string, unknown>>;
    const repeat = await post(gateway, tokenB, again);
    expect([repeat.status, repeat.body.accepted, repeat.body.duplicates]).toEqual([
      202,
      0,
      again.length,
    ]);
    const reused = { ...again[0], data: { ...(again[0]?.data as object), ChuHoSo: 'Khác' } };
    expect((await post(gateway, tokenB, [reused])).status).toBe(409);

    // Receipts: one's own commune's, not another's.
    const receiptUrl = async (e: Record<string, unknown>) =>
      gateway.url(
        `/v1/receipts?source=${encodeURIComponent(String(e.source))}&id=${encodeURIComponent(String(e.id))}`,
      );
    const own = await fetch(await receiptUrl(again[0] as Record<string, unknown>), {
      headers: { authorization: `Bearer ${tokenB}` },
    });
    expect(own.status).toBe(200);
    const other = await fetch(await receiptUrl(again[0] as Record<string, unknown>), {
      headers: { authorization: `Bearer ${tokenA}` },
    });
    expect(other.status).toBe(404);

    await world.waitForLedger({ SYNCED: lives.length }, 120_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });
    expect(world.input.messages).toHaveLength(posted);

    // Each commune reads its own statuses back: one entity, and what changed since a time.
    const get = async (path: string, bearer: string) => {
      const res = await fetch(await gateway.url(path), {
        headers: { authorization: `Bearer ${bearer}` },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const ofBLives = byCommune.get(second) as DossierLifecycle[];
    await expectEventually(
      async () => {
        const one = await get(`/v1/statuses/dossier/${encodeURIComponent(ofB.code)}`, tokenB);
        expect([one.status, one.body.state, one.body.communeCode]).toEqual([200, 'SYNCED', second]);
        const listed = await get('/v1/statuses?limit=1000', tokenB);
        const keys = (listed.body.statuses as Array<{ key: string; communeCode: string }>).map(
          (s) => `${s.communeCode} ${s.key}`,
        );
        expect(keys.sort()).toEqual(ofBLives.map((l) => `${second} ${l.code}`).sort());
      },
      { timeoutMs: 30_000 },
    );
    // Not another commune's.
    expect((await get(`/v1/statuses/dossier/${encodeURIComponent(ofB.code)}`, tokenA)).status).toBe(
      404,
    );
    const bad = await get('/v1/statuses?since=yesterday', tokenB);
    expect([bad.status, bad.body.code]).toEqual([400, 'BAD_QUERY']);
  });

  it('limits each commune’s rate: 429 with Retry-After, taken again once the time has passed', async () => {
    const world = await DossierWorld.create(ctx, 'gatewayrate');
    const gateway = await startGateway(world, 'gwrate', {
      RATE_PER_SECOND: '1',
      RATE_BURST: '6',
      MAX_BATCH_EVENTS: '6',
    });
    const life = dossierLifecycle(new Rng(7), { number: 1 });
    const events = lifecycleRecords(life).map(structured).slice(0, 6);
    const bearer = await idpToken(world, `commune-${life.commune.code}`);
    expect((await post(gateway, bearer, events)).status).toBe(202);
    const more = dossierLifecycle(new Rng(8), { number: 2, commune: life.commune });
    const next = lifecycleRecords(more).map(structured).slice(0, 3);
    const limited = await post(gateway, bearer, next);
    expect([limited.status, limited.body.code]).toEqual([429, 'RATE_LIMITED']);
    const wait = Number(limited.retryAfter);
    expect(wait).toBeGreaterThanOrEqual(1);
    // Another commune is not slowed down by it.
    const neighbour = dossierLifecycle(new Rng(9), { number: 3 });
    const theirs = lifecycleRecords(neighbour).map(structured).slice(0, 2);
    if (neighbour.commune.code !== life.commune.code) {
      const nb = await post(
        gateway,
        await idpToken(world, `commune-${neighbour.commune.code}`),
        theirs,
      );
      expect(nb.status).toBe(202);
    }
    await expectEventually(
      async () => expect((await post(gateway, bearer, next)).status).toBe(202),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  it('answers every body, content type and token with 202 or problem+json, never a 500 (fast-check, 300 requests)', async () => {
    const world = await DossierWorld.create(ctx, 'gatewayfuzz');
    const gateway = await startGateway(world, 'gwfuzz', {
      RATE_PER_SECOND: '10000',
      RATE_BURST: '100000',
    });
    const life = dossierLifecycle(new Rng(11), { number: 1 });
    const bearer = await idpToken(world, `commune-${life.commune.code}`);
    const valid = lifecycleRecords(life).map(structured);
    const plausible = fc
      .tuple(fc.constantFrom(...valid), fc.string({ maxLength: 20 }), fc.jsonValue())
      .map(([event, name, value]) => ({ ...event, [name]: value }));
    const body = fc.oneof(
      fc.jsonValue(),
      plausible,
      fc.array(plausible, { maxLength: 5 }),
      fc.string({ maxLength: 200 }),
    );
    const contentType = fc.constantFrom(
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      '',
    );
    const credential = fc.oneof(
      fc.constant(bearer),
      fc.constant(undefined),
      fc.string({ maxLength: 40 }).filter((t) => !/[\r\n]/.test(t)),
    );
    await fc.assert(
      fc.asyncProperty(body, contentType, credential, async (b, type, auth) => {
        const answer = await post(
          gateway,
          auth,
          typeof b === 'string' ? b : JSON.stringify(b),
          type,
        );
        expect(answer.status).not.toBe(500);
        if (answer.status !== 202) expect(answer.type).toMatch(PROBLEM);
      }),
      { numRuns: 300 },
    );
  });
});
