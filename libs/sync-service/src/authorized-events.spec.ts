import { loadVietnamAddressDatabase } from '@lienthong/admin-units';
import { AUTHORITY_HEADER, ContractValidator, TOPICS } from '@lienthong/contracts';
import {
  invalidCorpus,
  unauthorizedCorpus,
  validFixtureEvents,
  toRecord,
} from '@lienthong/testing';
import { authorizedEvents } from './authorized-events';

const communes = loadVietnamAddressDatabase();
const read = authorizedEvents(
  TOPICS.communeDossierEvents,
  new ContractValidator(),
  (code) => communes.commune(code)?.provinceCode,
);

describe('a sync service reads only events their publisher may publish', () => {
  it.each(unauthorizedCorpus().map((c) => [c.name, c] as const))(
    '%s: refused, naming the field and the rule',
    (_name, c) => {
      const got = read(c.record);
      expect(got.ok).toBe(false);
      if (got.ok) return;
      expect([got.failure.code, got.failure.issues[0].field, got.failure.issues[0].rule]).toEqual([
        c.expected.code,
        c.expected.field,
        c.expected.rule,
      ]);
      expect(got.failure.issues[0].message).toContain(c.expected.field);
    },
  );

  it("accepts the commune's own system, and its province's system", () => {
    const dossier = validFixtureEvents().find((e) => e.topic === TOPICS.communeDossierEvents);
    if (!dossier?.communeCode) throw new Error('the fixtures have no dossier event');
    const record = toRecord(dossier);
    expect(record.headers[AUTHORITY_HEADER]).toBe(`commune:${dossier.communeCode}`);
    expect(read(record).ok).toBe(true);
    const province = communes.commune(dossier.communeCode)?.provinceCode as string;
    record.headers[AUTHORITY_HEADER] = `province:${province}`;
    expect(read(record).ok).toBe(true);
  });

  it('reports a broken contract as before: the contract is checked first', () => {
    for (const c of invalidCorpus().filter((i) => i.topic === TOPICS.communeDossierEvents)) {
      const got = read(c.record);
      expect(got.ok ? 'valid' : got.failure.code).toBe(c.expected.code);
    }
  });
});
