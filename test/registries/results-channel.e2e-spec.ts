import { randomBytes } from 'node:crypto';
import { sampleDirectory } from '@lienthong/admin-units';
import { EVENT_TYPES } from '@lienthong/contracts';
import type { BirthRegistered } from '@lienthong/contracts';
import {
  Rng,
  SyncWorld,
  expectEventually,
  idpToken,
  startIngestGateway,
  useTestContext,
} from '@lienthong/testing';
import { CIVIL_STATUS_SYNC, civilEntities } from './registries-harness';

const PERSONAL_ID = /^[0-9]{12}$/;

describe('results with personal data reach only their own commune, real processes', () => {
  const ctx = useTestContext('results_channel');

  it('a birth’s personal ID: on sync.status.v2 only as a reference, resolved through ingest-gateway for the owning commune (or its province system) and nobody else', async () => {
    const world = await SyncWorld.open(ctx, CIVIL_STATUS_SYNC, 'results', {
      PORTAL_SIM_CIVIL_RESULT_DELAY_MS: '300',
      PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO: '0',
      PORTAL_SIM_CIVIL_NO_RESULT_RATIO: '0',
    });
    const resultsToken = randomBytes(24).toString('hex');
    world.watchSecret(resultsToken, 'RESULTS_API_TOKEN');
    const civil = await world.instance('civil-results', { RESULTS_API_TOKEN: resultsToken });
    await civil.start();
    const gateway = await startIngestGateway(ctx, world, 'gw', {
      CIVIL_STATUS_TOPIC: world.topic,
      CIVIL_STATUS_RESULTS_URL: await civil.url(),
      RESULTS_API_TOKEN: resultsToken,
    });

    // Births only, one per hospital birth certificate (the registry refuses a second one).
    const certificates = new Set<string>();
    const births = civilEntities(new Rng(31), 40).filter((e) => {
      const gcs = (e.latest as BirthRegistered).maGCS ?? e.key;
      if (e.type !== EVENT_TYPES.BirthRegistered || certificates.has(gcs)) return false;
      certificates.add(gcs);
      return true;
    });
    expect(births.length).toBeGreaterThan(3);
    await world.produce(births.flatMap((e) => e.records));

    // Every birth synced with its result; the shared topic carries a reference, no personal ID.
    let synced: Array<{ key: string; commune: string; ref: string }> = [];
    await expectEventually(
      () => {
        synced = world.syncStatusesV2().flatMap((s) =>
          s.state === 'SYNCED' && s.receipt?.result?.resultRef
            ? [
                {
                  key: s.entity.key,
                  commune: s.entity.communeCode,
                  ref: s.receipt.result.resultRef,
                },
              ]
            : [],
        );
        expect(new Set(synced.map((s) => s.key)).size).toBe(births.length);
      },
      { timeoutMs: 90_000 },
    );
    for (const m of world.statusesV2.messages) expect(m.value).not.toMatch(/soDinhDanh/);

    const token = (client: string) => idpToken(world, client);
    const resolve = async (ref: string, bearer?: string) => {
      const res = await fetch(await gateway.url(`/v1/results?ref=${encodeURIComponent(ref)}`), {
        headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const registry = await ctx.sql.query<{
      ma_dinh_danh_ho_so: string;
      result: { soDinhDanh?: string };
    }>(`select ma_dinh_danh_ho_so, result from "${world.simSchema}".civil_registration`);
    const issued = new Map(registry.map((r) => [r.ma_dinh_danh_ho_so, r.result?.soDinhDanh]));
    const first = synced[0] as { key: string; commune: string; ref: string };
    const other = synced.find((s) => s.commune !== first.commune);

    // The owning commune: the whole result, the personal ID the registry issued.
    const own = await resolve(first.ref, await token(`commune-${first.commune}`));
    expect(own.status).toBe(200);
    const id = (own.body.result as { soDinhDanh?: string }).soDinhDanh;
    expect(id).toMatch(PERSONAL_ID);
    expect([...issued.values()]).toContain(id);
    // Its province's system too.
    const province = sampleDirectory().commune(first.commune)?.provinceCode as string;
    expect((await resolve(first.ref, await token(`province-${province}`))).status).toBe(200);
    // Another commune, another province's system, no token: nothing (not even that it exists).
    if (other) {
      const theirs = await resolve(first.ref, await token(`commune-${other.commune}`));
      expect(theirs.status).toBe(404);
      expect(JSON.stringify(theirs.body)).not.toContain(id);
    }
    const elsewhere = ['01', '46', '79'].find((p) => p !== province) as string;
    expect((await resolve(first.ref, await token(`province-${elsewhere}`))).status).toBe(404);
    expect((await resolve(first.ref)).status).toBe(401);
    // The sync service's internal results API takes its token only.
    const direct = await fetch(await civil.url(`/results?ref=${encodeURIComponent(first.ref)}`));
    expect(direct.status).toBe(401);
  });
});
