import type { EncodedRecord } from '@lienthong/contracts';
import { CommuneTraffic } from '@lienthong/simulation';
import { CommuneTrafficRunner } from './commune-traffic.runner';

const START = Date.parse('2026-11-22T01:00:00Z');

/** A sink that refuses while `down`, and records what it accepted. */
class FlakySink {
  down = false;
  accepted: EncodedRecord[] = [];
  readonly byTopic = new Map<string, number>();
  async send(topic: string, records: EncodedRecord[]): Promise<void> {
    await Promise.resolve();
    if (this.down) throw new Error('KafkaJSConnectionError: connect ECONNREFUSED 127.0.0.1:9092');
    this.accepted.push(...records);
    this.byTopic.set(topic, (this.byTopic.get(topic) ?? 0) + records.length);
  }
}

const quiet = { warn: () => undefined, info: () => undefined };
const TOPICS_BY_DOMAIN = { dossier: 'd', 'civil-status': 'c', land: 'l' };

describe('CommuneTrafficRunner', () => {
  it('keeps every record through a sink outage and publishes them in order afterwards', async () => {
    const options = {
      dossiersPerMinute: 300,
      timeScale: 3600,
      mistakeRatio: 0,
      startAt: START,
      seed: 9,
    };
    const sink = new FlakySink();
    const runner = new CommuneTrafficRunner(
      new CommuneTraffic(options),
      sink,
      TOPICS_BY_DOMAIN,
      quiet,
    );
    // The same traffic, played without outage, is the expected output.
    const reference = new CommuneTraffic(options);
    const expected: EncodedRecord[] = [];

    for (let t = START; t <= START + 60_000; t += 500) {
      sink.down = t > START + 10_000 && t < START + 40_000;
      await runner.tick(t);
      expected.push(...reference.due(t).map((d) => d.record));
      if (sink.down && t > START + 12_000) {
        expect(runner.stats.lastError).toContain('ECONNREFUSED');
        expect(runner.stats.unpublished).toBeGreaterThan(0);
      }
    }
    // Catch up: the backlog goes out 500 records per send.
    for (let i = 0; i < 20 && runner.stats.unpublished > 0; i += 1)
      await runner.tick(START + 60_000);

    expect(runner.stats.unpublished).toBe(0);
    expect(runner.stats.lastError).toBeNull();
    expect(expected.length).toBeGreaterThan(500);
    // Event ids are fresh UUIDs; the dossier and its sequence identify a record.
    const id = (r: EncodedRecord) => `${r.key}#${r.headers.ce_sequence}`;
    expect(sink.accepted.map(id)).toEqual(expected.map(id));
    expect(runner.stats.published).toBe(expected.length);
  });

  it('runs overlapping ticks one after another: nothing sent twice, nothing skipped', async () => {
    const options = {
      dossiersPerMinute: 600,
      timeScale: 3600,
      mistakeRatio: 0,
      startAt: START,
      seed: 12,
    };
    const sink = new FlakySink();
    const slow = {
      send: async (topic: string, records: EncodedRecord[]) => {
        await new Promise((done) => setTimeout(done, 5));
        return sink.send(topic, records);
      },
    };
    const runner = new CommuneTrafficRunner(
      new CommuneTraffic(options),
      slow,
      TOPICS_BY_DOMAIN,
      quiet,
    );
    const reference = new CommuneTraffic(options);
    const expected: EncodedRecord[] = [];
    const ticks: Array<Promise<void>> = [];
    for (let t = START; t <= START + 30_000; t += 250) {
      // A timer tick and a rate change's tick at the same moment, without waiting.
      ticks.push(runner.tick(t), runner.tick(t));
      expected.push(...reference.due(t).map((d) => d.record));
    }
    await Promise.all(ticks);
    const id = (r: EncodedRecord) => `${r.key}#${r.headers.ce_sequence}`;
    expect(expected.length).toBeGreaterThan(100);
    expect(sink.accepted.map(id)).toEqual(expected.map(id));
    expect(runner.stats).toMatchObject({ published: expected.length, unpublished: 0 });
  });

  it('changes the rate at run time; 0 stops new dossiers while those under way play to the end', async () => {
    const sink = new FlakySink();
    const traffic = new CommuneTraffic({
      dossiersPerMinute: 600,
      timeScale: 3600,
      mistakeRatio: 0,
      startAt: Date.now(),
      seed: 4,
    });
    const runner = new CommuneTrafficRunner(traffic, sink, TOPICS_BY_DOMAIN, quiet);
    await runner.tick(Date.now() + 5_000);
    const started = runner.stats.started;
    expect(started).toBeGreaterThan(20);
    runner.setRates({ dossier: 0 });
    expect(runner.stats.dossiersPerMinute).toBe(0);
    await runner.tick(Date.now() + 3_600_000);
    expect(runner.stats.started).toBe(started);
    expect(runner.stats.completed).toBe(started);
    expect(runner.stats.inFlight).toBe(0);
  });

  it('sends each domain to its own topic, through an outage too', async () => {
    const options = {
      dossiersPerMinute: 120,
      civilStatusPerMinute: 120,
      landPerMinute: 60,
      timeScale: 3600,
      mistakeRatio: 0.05,
      startAt: START,
      seed: 21,
    };
    const sink = new FlakySink();
    const runner = new CommuneTrafficRunner(
      new CommuneTraffic(options),
      sink,
      TOPICS_BY_DOMAIN,
      quiet,
    );
    const reference = new CommuneTraffic(options);
    const expected = new Map<string, string[]>();
    for (let t = START; t <= START + 60_000; t += 500) {
      sink.down = t > START + 10_000 && t < START + 20_000;
      await runner.tick(t);
      for (const d of reference.due(t)) {
        const topic = TOPICS_BY_DOMAIN[d.domain];
        expected.set(topic, [
          ...(expected.get(topic) ?? []),
          `${d.record.key}#${d.record.headers.ce_sequence}`,
        ]);
      }
    }
    for (let i = 0; i < 20 && runner.stats.unpublished > 0; i += 1)
      await runner.tick(START + 60_000);
    expect(runner.stats.unpublished).toBe(0);
    expect(Object.fromEntries(sink.byTopic)).toEqual(
      Object.fromEntries([...expected].map(([topic, ids]) => [topic, ids.length])),
    );
    expect([...sink.byTopic.keys()].sort()).toEqual(['c', 'd', 'l']);
  });
});
