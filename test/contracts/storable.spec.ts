import {
  ContractValidator,
  EVENT_TYPES,
  encodeEvent,
  readEvent,
  reasonFromFailure,
} from '@lienthong/contracts';
import type { DossierProgressStep, DossierUpserted, KafkaRecord } from '@lienthong/contracts';
import { Rng, dossierLifecycle } from '@lienthong/testing';

/**
 * The contract lets through only what every later step can store (PostgreSQL text and jsonb, the
 * portals' date forms): whatever the database would refuse is refused up front, naming the field
 * and the rule, never quoting the value.
 */
const validator = new ContractValidator();
const life = dossierLifecycle(new Rng(5), { endAt: 4 });
const header = life.events.find((e) => e.kind === 'upsert')?.data as DossierUpserted;
const step = life.events.find((e) => e.kind === 'step')?.data as DossierProgressStep;
const TOPIC = 'commune.dossier.events.v1';

function headerRecord(
  data: DossierUpserted,
  options: { id?: string; subject?: string } = {},
): KafkaRecord {
  return encodeEvent(EVENT_TYPES.DossierUpserted, data, {
    source: `/communes/${life.commune.code}/one-stop`,
    communeCode: life.commune.code,
    sequence: 7,
    ...options,
  });
}

const refusal = (record: KafkaRecord) => {
  const read = readEvent(record, TOPIC, validator);
  if (read.ok) throw new Error('expected a refusal');
  return reasonFromFailure(read.failure);
};

describe('the contract refuses what the stores cannot hold', () => {
  it('accepts the untouched event', () => {
    expect(readEvent(headerRecord(header), TOPIC, validator).ok).toBe(true);
  });

  it.each([
    ['a NUL character', 'Xử lý\u0000 xong'],
    ['a lone high surrogate', 'abc\uD800def'],
    ['a lone low surrogate', '\uDC00'],
  ])('%s in a step text (legal JSON, refused by jsonb)', (_name, text) => {
    const r = refusal(
      encodeEvent(
        EVENT_TYPES.DossierProgressStep,
        { ...step, NoiDungXuLy: text },
        {
          source: `/communes/${life.commune.code}/one-stop`,
          communeCode: life.commune.code,
          sequence: 9,
        },
      ),
    );
    expect(r).toMatchObject({
      code: 'CONTRACT_VIOLATION',
      field: 'NoiDungXuLy',
      rule: 'storable-text',
    });
    expect(r.message).not.toContain(text);
  });

  it('a NUL character in a header', () => {
    const record = headerRecord(header);
    (record.headers as Record<string, string>).ce_source = '/communes/x\u0000';
    expect(refusal(record)).toMatchObject({
      code: 'ENVELOPE_INVALID',
      field: 'ce_source',
      rule: 'storable-text',
    });
  });

  it('a ce_id longer than its contract allows', () => {
    expect(refusal(headerRecord(header, { id: 'x'.repeat(201) }))).toMatchObject({
      code: 'ENVELOPE_INVALID',
      field: 'ce_id',
      rule: 'maxLength',
    });
  });

  it.each([
    ['a leap second (valid RFC 3339, not a JavaScript date)', '2016-12-31T23:59:60+07:00'],
    ['a year before 1800', '1700-07-02T08:00:00+07:00'],
    ['a year after 2199', '2300-07-02T08:00:00+07:00'],
  ])('%s in a timestamp', (_name, value) => {
    expect(refusal(headerRecord({ ...header, NgayTiepNhan: value }))).toMatchObject({
      code: 'CONTRACT_VIOLATION',
      field: 'NgayTiepNhan',
      rule: 'format',
    });
  });

  it('a subject that is not the payload entity key (the key decides partition and order)', () => {
    expect(refusal(headerRecord(header, { subject: `${header.MaHoSo}-other` }))).toMatchObject({
      code: 'ENVELOPE_INVALID',
      field: 'ce_subject',
      rule: 'subject-equals-entity-key',
    });
  });

  it('malformed JSON is named by position, never quoted', () => {
    const record = headerRecord(header);
    record.value = Buffer.from('{"ChuHoSo": "Nguyễn Văn Bí Mật", oops}');
    const r = refusal(record);
    expect(r.code).toBe('MALFORMED_JSON');
    expect(JSON.stringify(r)).not.toContain('Bí Mật');
    expect(r.message).toMatch(/at character \d+/);
  });
});
