import fc from 'fast-check';
import {
  ContractValidator,
  EVENT_CATALOG,
  decodeEvent,
  readEvent,
  recordToStructured,
  structuredToRecord,
  TOPIC_SPECS,
} from '@lienthong/contracts';
import { toRecord, validFixtureEvents } from '@lienthong/testing';

const validator = new ContractValidator();
const bytes = fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a));
const headerValue = fc.oneof(fc.string({ maxLength: 80 }), bytes);
const ceHeaderName = fc.constantFrom(
  'ce_id',
  'ce_type',
  'ce_source',
  'ce_specversion',
  'ce_time',
  'ce_subject',
  'ce_communecode',
  'ce_sequence',
  'ce_traceparent',
  'content-type',
);
const headers = fc.dictionary(fc.oneof(ceHeaderName, fc.string({ maxLength: 20 })), headerValue, {
  maxKeys: 12,
});

describe('properties: never throw, only answer', () => {
  it('decodeEvent on arbitrary keys, values and headers', () => {
    fc.assert(
      fc.property(fc.option(bytes), fc.option(bytes), headers, (key, value, h) => {
        const result = decodeEvent({ key, value, headers: h });
        if (!result.ok) expect(result.failure.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('readEvent on valid envelopes whose payload bytes are arbitrary', () => {
    const base = toRecord(validFixtureEvents()[0]!);
    fc.assert(
      fc.property(bytes, fc.constantFrom(...TOPIC_SPECS.map((t) => t.name)), (value, topic) => {
        const result = readEvent({ ...base, value }, topic, validator);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });

  it('the validator on arbitrary JSON for every event type', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...EVENT_CATALOG.map((e) => e.ceType)),
        fc.jsonValue(),
        (type, json) => {
          const result = validator.validate(type, json);
          if (!result.ok) expect(result.failure.issues[0].message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('the validator on valid payloads with one field replaced by arbitrary JSON', () => {
    const events = validFixtureEvents();
    fc.assert(
      fc.property(fc.constantFrom(...events), fc.nat(), fc.jsonValue(), (event, pick, json) => {
        const data = { ...(event.data as Record<string, unknown>) };
        const keys = Object.keys(data);
        data[keys[pick % keys.length] as string] = json;
        const result = validator.validate(event.type, data);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });

  it('structuredToRecord then readEvent on arbitrary JSON, and on valid events with an attribute replaced', () => {
    const events = validFixtureEvents().map((e) => recordToStructured(toRecord(e)));
    const attribute = fc.oneof(
      fc.constantFrom('id', 'source', 'type', 'subject', 'time', 'communecode', 'sequence', 'data'),
      fc.string({ maxLength: 25 }),
    );
    const answer = (event: unknown) => {
      const shaped = structuredToRecord(event);
      if (!shaped.ok) {
        expect(shaped.failure.issues[0].message).toContain(shaped.failure.issues[0].field);
        return;
      }
      const read = readEvent(shaped.value, 'commune.dossier.events.v1', validator);
      expect(typeof read.ok).toBe('boolean');
    };
    fc.assert(fc.property(fc.jsonValue(), answer), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.constantFrom(...events), attribute, fc.jsonValue(), (event, name, value) =>
        answer({ ...event, [name]: value }),
      ),
      { numRuns: 3000 },
    );
  });
});
