import { ContractValidator, TOPICS, readEvent } from '@lienthong/contracts';
import type { EncodedRecord } from '@lienthong/contracts';
import { CommuneTraffic } from './traffic';

const START = Date.parse('2026-11-22T01:00:00Z');
const MINUTE = 60_000;

/** Runs the traffic with a fake clock, one call per simulated real second, and collects what it hands out. */
function play(traffic: CommuneTraffic, realMs: number, stepMs = 1_000): EncodedRecord[] {
  const out: EncodedRecord[] = [];
  for (let t = START; t <= START + realMs; t += stepMs)
    out.push(...traffic.due(t).map((d) => d.record));
  return out;
}

describe('CommuneTraffic', () => {
  const validator = new ContractValidator();

  it('starts dossiers at the configured rate and plays every lifecycle to the end, in sequence order', () => {
    const traffic = new CommuneTraffic({
      dossiersPerMinute: 120,
      timeScale: 3600,
      mistakeRatio: 0,
      startAt: START,
      seed: 7,
    });
    const during = play(traffic, 10 * MINUTE);
    const startedIn10Min = traffic.stats.started;
    // Poisson arrivals: 1,200 expected, standard deviation ≈ 35; ±10 % is > 3 sd.
    expect(startedIn10Min).toBeGreaterThan(1_080);
    expect(startedIn10Min).toBeLessThan(1_320);

    // Rate 0 stops arrivals; what is under way plays to the end.
    let t = START + 10 * MINUTE;
    traffic.setRate(0, t);
    const drain: EncodedRecord[] = [];
    while (traffic.stats.inFlight > 0 && t < START + 30 * MINUTE) {
      t += 1_000;
      drain.push(...traffic.due(t).map((d) => d.record));
    }
    expect(traffic.stats).toMatchObject({ started: startedIn10Min, completed: startedIn10Min });
    expect(traffic.msUntilNext(t)).toBe(Infinity);

    const bySubject = new Map<string, number[]>();
    for (const r of [...during, ...drain]) {
      const seq = Number(r.headers.ce_sequence);
      const list = bySubject.get(r.key) ?? [];
      list.push(seq);
      bySubject.set(r.key, list);
    }
    expect(bySubject.size).toBe(startedIn10Min);
    for (const seqs of bySubject.values()) {
      expect(seqs.length).toBeGreaterThanOrEqual(4);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
  });

  it('sends only valid events, except the deliberate mistakes, which fail on NgayHenTra date-order', () => {
    const traffic = new CommuneTraffic({
      dossiersPerMinute: 60,
      timeScale: 7200,
      mistakeRatio: 0.2,
      startAt: START,
      seed: 11,
    });
    const records = play(traffic, 5 * MINUTE);
    expect(records.length).toBeGreaterThan(1_000);
    const failures = records
      .map((r) => readEvent(r, TOPICS.communeDossierEvents, validator))
      .flatMap((read) => (read.ok ? [] : [read.failure]));
    expect(traffic.stats.mistakes).toBeGreaterThan(20);
    // Mistakes already handed out = failures; a mistake still queued is not counted yet.
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.length).toBeLessThanOrEqual(traffic.stats.mistakes);
    for (const f of failures) {
      expect(f.issues[0]).toMatchObject({ field: 'NgayHenTra', rule: 'date-order' });
    }
  });

  it('numbers dossiers per unit and simulated day, so MaHoSo never repeats, and is deterministic for a seed', () => {
    const options = {
      dossiersPerMinute: 600,
      timeScale: 3600,
      mistakeRatio: 0,
      startAt: START,
      seed: 3,
    };
    const a = play(new CommuneTraffic(options), 3 * MINUTE);
    const b = play(new CommuneTraffic(options), 3 * MINUTE);
    expect(b.map((r) => r.value.toString())).toEqual(a.map((r) => r.value.toString()));

    const firsts = a.filter((r) => r.headers.ce_sequence === '1').map((r) => r.key);
    expect(firsts.length).toBeGreaterThan(1_500);
    expect(new Set(firsts).size).toBe(firsts.length);
    // Three real minutes at 3600× cover 7.5 simulated days: MaHoSo dates advance with the clock.
    const days = new Set(firsts.map((code) => code.split('-')[1]));
    expect(days.size).toBeGreaterThanOrEqual(7);
  });

  it('compresses a lifecycle by the time scale', () => {
    const traffic = new CommuneTraffic({
      dossiersPerMinute: 1,
      timeScale: 1440,
      mistakeRatio: 0,
      startAt: START,
      seed: 5,
    });
    const seen = new Map<
      string,
      { firstReal: number; firstSim: number; lastReal: number; lastSim: number }
    >();
    for (let t = START; t <= START + 60 * MINUTE; t += 250) {
      for (const { record: r } of traffic.due(t)) {
        const sim = Date.parse(r.headers.ce_time as string);
        const s = seen.get(r.key) ?? { firstReal: t, firstSim: sim, lastReal: t, lastSim: sim };
        s.lastReal = t;
        s.lastSim = sim;
        seen.set(r.key, s);
      }
    }
    const spans = [...seen.values()].filter((s) => s.lastSim > s.firstSim);
    expect(spans.length).toBeGreaterThan(10);
    for (const s of spans) {
      const expected = (s.lastSim - s.firstSim) / 1440;
      // Polled every 250 ms: the real span matches within one poll.
      expect(Math.abs(s.lastReal - s.firstReal - expected)).toBeLessThanOrEqual(250);
    }
  });

  it('rejects settings that make no sense, naming the setting', () => {
    const base = { dossiersPerMinute: 1, timeScale: 60, mistakeRatio: 0, startAt: START };
    expect(() => new CommuneTraffic({ ...base, dossiersPerMinute: -1 })).toThrow(
      'dossiersPerMinute',
    );
    expect(() => new CommuneTraffic({ ...base, timeScale: 0 })).toThrow('timeScale');
    expect(() => new CommuneTraffic({ ...base, mistakeRatio: 2 })).toThrow('mistakeRatio');
  });

  it('plays civil-status registrations and land dossiers on their own topics: valid except the mistakes, which fail on date-order and are corrected', () => {
    const traffic = new CommuneTraffic({
      dossiersPerMinute: 0,
      civilStatusPerMinute: 60,
      landPerMinute: 30,
      timeScale: 3600,
      mistakeRatio: 0.1,
      startAt: START,
      seed: 11,
    });
    const out: Array<{ domain: string; record: EncodedRecord }> = [];
    for (let t = START; t <= START + 40 * MINUTE; t += 1_000) {
      if (t === START + 10 * MINUTE) traffic.setRates({ 'civil-status': 0, land: 0 }, t);
      out.push(...traffic.due(t));
    }
    expect(traffic.stats.inFlight).toBe(0);
    const topics = {
      'civil-status': TOPICS.communeCivilStatusEvents,
      land: TOPICS.communeLandEvents,
    };
    const rules = new Map<string, number>();
    const lastValid = new Map<string, boolean>();
    for (const { domain, record } of out) {
      expect(domain).not.toBe('dossier');
      const read = readEvent(record, topics[domain as keyof typeof topics], validator);
      if (!read.ok) {
        const rule = read.failure.issues[0]?.rule ?? read.failure.code;
        rules.set(rule, (rules.get(rule) ?? 0) + 1);
      }
      lastValid.set(`${domain}:${record.key}`, read.ok);
    }
    const domains = new Set(out.map((o) => o.domain));
    expect(domains).toEqual(new Set(['civil-status', 'land']));
    // Every mistake is a date-order failure, and every entity ends valid.
    expect([...rules.keys()]).toEqual(['date-order']);
    expect(rules.get('date-order')).toBe(traffic.stats.mistakes);
    expect(traffic.stats.mistakes).toBeGreaterThan(0);
    expect([...lastValid.values()].every(Boolean)).toBe(true);
  });

  it('numbers dossiers from a base of its seed, so two runs on the same day do not reuse MaHoSo', () => {
    const codes = (seed: number) => {
      const traffic = new CommuneTraffic({
        dossiersPerMinute: 60,
        timeScale: 3600,
        mistakeRatio: 0,
        startAt: START,
        seed,
        communes: undefined,
      });
      return new Set(play(traffic, 2 * MINUTE).map((r) => r.key));
    };
    const a = codes(1);
    const b = codes(2);
    expect([...a].filter((k) => b.has(k))).toEqual([]);
  });
});
