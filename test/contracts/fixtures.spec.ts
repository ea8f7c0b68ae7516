import { ContractValidator, EVENT_CATALOG, readEvent } from '@lienthong/contracts';
import {
  dossierLifecycle,
  invalidCorpus,
  Rng,
  toRecord,
  validFixtureEvents,
} from '@lienthong/testing';

const validator = new ContractValidator();

describe('valid fixtures', () => {
  const events = validFixtureEvents();

  it('cover every event type of the catalogue', () => {
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(EVENT_CATALOG.map((e) => e.ceType)));
  });

  it.each(events.map((e) => [e.name, e] as const))('%s is read as valid', (_name, e) => {
    const result = readEvent(toRecord(e), e.topic, validator);
    expect(result.ok ? 'valid' : result.failure.issues).toBe('valid');
  });

  it('lifecycles are realistic: 1 → 2 → 4 → (5 → 4) → 9 → 10, steps with stable ids', () => {
    const life = dossierLifecycle(new Rng(7), { supplement: true });
    const statuses = life.events
      .filter((e) => e.kind === 'upsert')
      .map((e) => e.data.TrangThaiHoSo);
    expect(statuses).toEqual([1, 2, 4, 5, 4, 9, 10]);
    expect(life.steps.map((s) => s.TrangThai)).toEqual([2, 4, 5, 4, 9, 10]);
    expect(life.events.map((e) => e.sequence)).toEqual(life.events.map((_, i) => i + 1));
    expect(new Set(life.steps.map((s) => s.MaBuocXuLy)).size).toBe(life.steps.length);
    expect(life.code).toMatch(/^000\.00\.[0-9]{2}\.(H[0-9]{2}|Z[0-9]{2})-[0-9]{6}-[0-9]{4}$/);
    expect(life.final.ChuHoSo).toMatch(/[À-ỹ]/u);
  });
});

describe('invalid corpus: each record breaks exactly one rule', () => {
  const corpus = invalidCorpus();

  it('has a case for every kind of failure', () => {
    expect(new Set(corpus.map((c) => c.expected.code))).toEqual(
      new Set([
        'CONTRACT_VIOLATION',
        'BUSINESS_RULE_VIOLATION',
        'ENVELOPE_INVALID',
        'NOT_A_CLOUDEVENT',
        'MALFORMED_JSON',
        'UNKNOWN_EVENT_TYPE',
        'WRONG_TOPIC',
      ]),
    );
  });

  it.each(corpus.map((c) => [c.name, c] as const))(
    '%s: refused, naming the field and the rule',
    (_name, c) => {
      const result = readEvent(c.record, c.topic, validator);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect({
        code: result.failure.code,
        issues: result.failure.issues.map((i) => `${i.field} ${i.rule}`),
      }).toEqual({
        code: c.expected.code,
        issues: [`${c.expected.field} ${c.expected.rule}`],
      });
      expect(result.failure.issues[0]?.message).toContain(c.expected.field);
    },
  );
});
