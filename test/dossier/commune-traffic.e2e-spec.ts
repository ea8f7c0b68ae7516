import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import type { DossierLifecycle } from '@lienthong/testing';
import {
  FIXTURE_COMMUNES,
  RecordingConsumer,
  SIMULATOR_ADMIN_TOKEN,
  ServiceProcess,
  expectEventually,
  useTestContext,
} from '@lienthong/testing';
import { DossierWorld, expectPortalHoldsExactly } from './dossier-harness';

interface TrafficStats {
  started: number;
  completed: number;
  inFlight: number;
  emitted: number;
  published: number;
  unpublished: number;
  mistakes: number;
}

/** What commune-sim really put on the topic, regrouped as lifecycles (the last revision is the truth). */
function lifecyclesFrom(
  messages: RecordingConsumer['messages'],
  dead: Set<string>,
): DossierLifecycle[] {
  const byKey = new Map<string, RecordingConsumer['messages']>();
  for (const m of messages) {
    const own = byKey.get(m.key as string) ?? [];
    own.push(m);
    byKey.set(m.key as string, own);
  }
  const commune = FIXTURE_COMMUNES[0] as DossierLifecycle['commune'];
  return [...byKey.entries()].map(([code, own]) => {
    const sorted = [...own].sort(
      (x, y) => Number(x.headers.ce_sequence) - Number(y.headers.ce_sequence),
    );
    const events = sorted.map((m) => {
      const data: unknown = JSON.parse(m.value as string);
      const sequence = Number(m.headers.ce_sequence);
      const time = m.headers.ce_time as string;
      return m.headers.ce_type?.includes('progress')
        ? { kind: 'step' as const, sequence, time, data: data as DossierProgressStep }
        : { kind: 'upsert' as const, sequence, time, data: data as DossierUpserted };
    });
    const headers = events.filter(
      (e): e is Extract<(typeof events)[number], { kind: 'upsert' }> =>
        e.kind === 'upsert' && !dead.has(`${code}#${e.sequence}`),
    );
    return {
      code,
      commune,
      events,
      final: (headers.at(-1) as { data: DossierUpserted }).data,
      steps: events.flatMap((e) => (e.kind === 'step' ? [e.data] : [])),
    };
  });
}

describe('simulated communes → dossier-sync → DVCQG, all real processes', () => {
  const ctx = useTestContext('commune_traffic');

  it('commune-sim traffic with data-entry mistakes: every dossier it played ends exact at DVCQG, every mistake in the DLQ with its rule', async () => {
    const world = await DossierWorld.create(ctx, 'communes');
    const published = new RecordingConsumer(ctx.kafka);
    await published.start(world.topic);
    ctx.onCleanup(() => published.stop());

    const sync = await world.instance('dossier-sync-communes');
    await sync.start();
    const communes = new ServiceProcess({
      entry: 'services/commune-sim/dist/main.js',
      env: {
        KAFKA_BROKERS: ctx.stack.kafkaBrokers.join(','),
        DOSSIER_TOPIC: world.topic,
        DOSSIERS_PER_MINUTE: '1200',
        // Dossiers only here (the registries have their own suites).
        CIVIL_STATUS_PER_MINUTE: '0',
        LAND_PER_MINUTE: '0',
        // A simulated day every 4 real seconds: lifecycles of several days play in seconds.
        TIME_SCALE: '21600',
        MISTAKE_RATIO: '0.1',
        LOG_LEVEL: 'warn',
        COMMUNE_SIM_ADMIN_TOKEN: SIMULATOR_ADMIN_TOKEN,
      },
      readyPath: '/health/ready',
    });
    ctx.onCleanup(() => communes.stop());
    await communes.start();
    const traffic = async (): Promise<TrafficStats> =>
      (await (await fetch(await communes.url('/traffic'))).json()) as TrafficStats;

    await expectEventually(async () => expect((await traffic()).started).toBeGreaterThan(150), {
      timeoutMs: 30_000,
    });
    // Stop new dossiers; those under way play to the end. Changing the rates takes the admin token.
    const change = (authorization?: string) =>
      communes.url('/traffic').then((url) =>
        fetch(url, {
          method: 'PUT',
          headers: {
            'content-type': 'application/json',
            ...(authorization ? { authorization } : {}),
          },
          body: JSON.stringify({ dossiersPerMinute: 0 }),
        }),
      );
    expect((await change()).status).toBe(401);
    expect((await change('Bearer not-the-admin-token-at-all')).status).toBe(401);
    expect((await change(`Bearer ${SIMULATOR_ADMIN_TOKEN}`)).status).toBe(200);
    await expectEventually(
      async () => expect(await traffic()).toMatchObject({ inFlight: 0, unpublished: 0 }),
      { timeoutMs: 60_000 },
    );
    const final = await traffic();
    expect(final.published).toBe(final.emitted);
    expect(final.mistakes).toBeGreaterThan(0);

    // Everything commune-sim published, seen on the topic; the mistakes in the DLQ with their rule.
    await expectEventually(() => expect(published.messages).toHaveLength(final.emitted), {
      timeoutMs: 30_000,
    });
    await expectEventually(() => expect(world.dlqConsumer.messages).toHaveLength(final.mistakes), {
      timeoutMs: 30_000,
    });
    for (const m of world.dlqConsumer.messages)
      expect(m.headers).toMatchObject({
        dlq_error_code: 'BUSINESS_RULE_VIOLATION',
        dlq_field: 'NgayHenTra',
        dlq_rule: 'date-order',
      });
    const dead = new Set(
      world.dlqConsumer.messages.map((m) => `${m.key}#${m.headers.ce_sequence}`),
    );

    const lives = lifecyclesFrom(published.messages, dead);
    expect(lives).toHaveLength(final.started);
    await world.waitForLedger({ SYNCED: lives.length }, 120_000);
    await expectPortalHoldsExactly(world, lives, { stepOrder: true });
  });
});
