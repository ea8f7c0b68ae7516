import type { KafkaRecord } from './cloud-event.codec';
import { failure } from '../validation/validation-failure';
import type { Validated } from '../validation/validation-failure';

/** CloudEvents attribute names: lower-case ASCII letters and digits (spec 1.0, "Attribute Naming"). */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;
/** Integer-valued extensions a JSON producer may send as numbers (CloudEvents "Integer" type). */
const INTEGER_ATTRIBUTES = new Set(['sequence']);

/**
 * A CloudEvent in structured JSON mode (`application/cloudevents+json`: attributes and `data` in
 * one object) as the Kafka record in binary mode the consumers read (`ce_*` headers, the JSON
 * payload as the value, the subject as the key). Only the shape is checked here; `readEvent` then
 * validates it exactly as it validates a record a producer wrote to Kafka, so an HTTP client gets
 * the same rules and the same failures. Never throws.
 */
export function structuredToRecord(event: unknown): Validated<KafkaRecord> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return failure('decode', 'NOT_A_CLOUDEVENT', [
      {
        path: '(event)',
        field: '(event)',
        rule: 'type',
        message: '(event): must be a JSON object (a CloudEvent in structured mode)',
      },
    ]);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event as Record<string, unknown>)) {
    if (name === 'data') continue;
    if (name === 'data_base64') {
      return envelopeInvalid(name, 'json-data-only', 'is not accepted: send the payload as `data`');
    }
    if (!ATTRIBUTE_NAME.test(name)) {
      return envelopeInvalid(
        name.slice(0, 40),
        'attribute-name',
        'is not a CloudEvents attribute name (lower-case letters and digits, at most 20)',
      );
    }
    if (typeof value === 'string') headers[`ce_${name}`] = value;
    else if (INTEGER_ATTRIBUTES.has(name) && Number.isSafeInteger(value))
      headers[`ce_${name}`] = String(value);
    else return envelopeInvalid(name, 'type', 'must be a string');
  }
  const contentType = headers.ce_datacontenttype ?? 'application/json';
  delete headers.ce_datacontenttype;
  headers['content-type'] = contentType;
  const data = (event as { data?: unknown }).data;
  return {
    ok: true,
    value: {
      key: headers.ce_subject ?? null,
      value: data === undefined ? null : Buffer.from(JSON.stringify(data), 'utf8'),
      headers,
    },
  };
}

function envelopeInvalid(field: string, rule: string, message: string) {
  return failure('decode', 'ENVELOPE_INVALID', [
    { path: field, field, rule, message: `${field}: ${message}` },
  ]);
}

/**
 * The inverse: a record in binary mode (as `encodeEvent` makes it) as the structured JSON
 * CloudEvent a commune system posts to ingest-gateway (`sequence` as a number, `data` parsed).
 */
export function recordToStructured(record: {
  headers: Record<string, string>;
  value: Buffer;
}): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (name.startsWith('ce_')) event[name.slice(3)] = value;
  }
  if (typeof event.sequence === 'string') event.sequence = Number(event.sequence);
  event.datacontenttype = record.headers['content-type'] ?? 'application/json';
  event.data = JSON.parse(record.value.toString('utf8')) as unknown;
  return event;
}
