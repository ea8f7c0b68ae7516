import { TOPICS } from '@lienthong/contracts';
import {
  Rng,
  dossierLifecycle,
  expectEventually,
  invalidCorpus,
  unauthorizedCorpus,
  useTestContext,
} from '@lienthong/testing';
import { DossierWorld, expectPortalHoldsExactly, tracedLifecycleRecords } from './dossier-harness';

describe('dossier-sync end to end: Kafka → ledger → DVCQG (portal-sim), real processes', () => {
  const ctx = useTestContext('dossier_e2e');

  it('2,000 dossier lifecycles with the invalid corpus and unauthorized publishers mixed in, two instances: every dossier at DVCQG in order, one SYNCED per final state, every invalid or unauthorized event in the DLQ with its reason', async () => {
    const world = await DossierWorld.create(ctx, 'lifecycles');
    const rng = new Rng(2025);
    const lives = Array.from({ length: 2000 }, (_, i) => dossierLifecycle(rng, { number: i + 1 }));
    // Unauthorized: another commune's or another province's system publishing for commune 14758,
    // or no trusted writer at all (docs/security.md). Refused like a broken contract.
    const invalid = [
      ...invalidCorpus().filter((c) => c.topic === TOPICS.communeDossierEvents),
      ...unauthorizedCorpus(),
    ];
    expect(invalid.length).toBeGreaterThan(9);
    const records = lives.flatMap(tracedLifecycleRecords);
    invalid.forEach((c, i) =>
      records.splice((i * 997) % records.length, 0, {
        key: c.record.key as string,
        value: c.record.value as Buffer,
        headers: c.record.headers as Record<string, string>,
      }),
    );

    const a = await world.instance('dossier-sync-a');
    const b = await world.instance('dossier-sync-b');
    await Promise.all([a.start(), b.start()]);
    await world.produce(records);

    await world.waitForLedger({ SYNCED: lives.length }, 240_000);
    await world.waitForOutboxDrained();
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });

    // Both instances did part of the pushing.
    const pushes = await Promise.all(
      [a, b].map(async (s) =>
        (await world.metric(s, 'lienthong_sync_push_total{outcome="synced"')).map((l) =>
          Number(l.split(' ').pop()),
        ),
      ),
    );
    expect(pushes.map(([n]) => (n ?? 0) > 0)).toEqual([true, true]);
    // Each instance reports how long its event loop has been busy (it ran ingest and pushes).
    const busy = await Promise.all(
      [a, b].map(async (s) =>
        (await world.metric(s, 'lienthong_event_loop_busy_seconds_total')).map((l) =>
          Number(l.split(' ').pop()),
        ),
      ),
    );
    expect(busy.map(([seconds]) => (seconds ?? 0) > 0)).toEqual([true, true]);

    // One SYNCED status per dossier at its final sequence (ids deduplicated: a replay repeats its id).
    const lastSequence = new Map(lives.map((l) => [l.code, l.events.at(-1)?.sequence]));
    await expectEventually(
      () => {
        const finalSynced = new Map<string, number>();
        for (const s of world.syncStatuses())
          if (s.state === 'SYNCED' && s.sequence === lastSequence.get(s.key))
            finalSynced.set(s.key, (finalSynced.get(s.key) ?? 0) + 1);
        expect(finalSynced.size).toBe(lives.length);
        expect([...finalSynced].filter(([, n]) => n !== 1)).toEqual([]);
      },
      { timeoutMs: 30_000 },
    );

    // The invalid corpus: each in the DLQ, with the field and rule it broke.
    await expectEventually(() => expect(world.dlqConsumer.messages).toHaveLength(invalid.length), {
      timeoutMs: 30_000,
    });
    const dead = world.dlqConsumer.messages.map((m) => ({
      code: m.headers.dlq_error_code,
      field: m.headers.dlq_field,
      rule: m.headers.dlq_rule,
    }));
    const key = (d: { code?: string; field?: string; rule?: string }) =>
      `${d.code} ${d.field} ${d.rule}`;
    expect(dead.map(key).sort()).toEqual(invalid.map((c) => key(c.expected)).sort());
  });

  it('every event sent twice and shuffled within its dossier: one effect per change at DVCQG, final state = highest sequence', async () => {
    const world = await DossierWorld.create(ctx, 'shuffled');
    const rng = new Rng(77);
    const lives = Array.from({ length: 300 }, (_, i) =>
      dossierLifecycle(rng, { number: 5000 + i }),
    );
    // Shuffle each dossier's events (they share a key, so Kafka keeps this shuffled order), then send each twice.
    const records = lives.flatMap((life) => {
      const own = tracedLifecycleRecords(life);
      for (let i = own.length - 1; i > 0; i -= 1) {
        const j = rng.int(0, i);
        [own[i], own[j]] = [own[j] as (typeof own)[number], own[i] as (typeof own)[number]];
      }
      return own.flatMap((r) => [r, r]);
    });
    const a = await world.instance('dossier-sync-shuffle');
    await a.start();
    await world.produce(records);
    await world.waitForLedger({ SYNCED: lives.length }, 180_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: false });
    const duplicates = await world.metric(a, 'lienthong_ledger_ingest_total{outcome="duplicate"');
    expect(Number(duplicates[0]?.split(' ').pop())).toBeGreaterThanOrEqual(records.length / 2);
  });
});
