import { decodeEvent } from './envelope/cloud-event.codec';
import type { EventEnvelope, KafkaRecord } from './envelope/cloud-event.codec';
import { EVENT_CATALOG } from './generated/catalog';
import type { EventType, PayloadByEventType } from './generated/catalog';
import type { ContractValidator } from './validation/contract-validator';
import { failure, unknownEventType } from './validation/validation-failure';
import type { Validated } from './validation/validation-failure';

/** A valid event: its envelope and a payload that passed its contract. */
export interface ContractEvent<T extends EventType = EventType> {
  envelope: EventEnvelope & { type: T };
  data: PayloadByEventType[T];
}

const topicOfType = new Map(EVENT_CATALOG.map((e) => [e.ceType as string, e.topic as string]));
const keyFieldOfType = new Map(
  EVENT_CATALOG.flatMap((e) => (e.entityKeyField ? [[e.ceType as string, e.entityKeyField]] : [])),
);

/**
 * Everything a consumer needs before it may act on a record: decode the CloudEvent, check the
 * type belongs on this topic, validate the payload against its contract. Never throws.
 */
export function readEvent(
  record: KafkaRecord,
  topic: string,
  validator: ContractValidator,
): Validated<ContractEvent> {
  const decoded = decodeEvent(record);
  if (!decoded.ok) return decoded;
  const { envelope, data } = decoded.value;
  const expected = topicOfType.get(envelope.type);
  if (expected === undefined) {
    return unknownEventType(envelope.type);
  }
  if (expected !== topic) {
    return failure(
      'validate',
      'WRONG_TOPIC',
      [
        {
          path: 'ce_type',
          field: 'ce_type',
          rule: 'topic-of-type',
          message: `ce_type: belongs on ${expected}, not ${topic}`,
        },
      ],
      envelope.type,
    );
  }
  const valid = validator.validate(envelope.type, data);
  if (!valid.ok) return valid;
  // The subject is the Kafka key, so it decides the partition and the order; the payload's key
  // decides which entity changes. They must be the same entity, or one entity's events could be
  // ordered by another's key (and land on another partition).
  const keyField = keyFieldOfType.get(envelope.type);
  if (keyField !== undefined) {
    const key = (valid.value as unknown as Record<string, unknown>)[keyField];
    if (key !== envelope.subject) {
      return failure(
        'validate',
        'ENVELOPE_INVALID',
        [
          {
            path: 'ce_subject',
            field: 'ce_subject',
            rule: 'subject-equals-entity-key',
            message: `ce_subject: must equal the payload's ${keyField}`,
          },
        ],
        envelope.type,
      );
    }
  }
  return { ok: true, value: { envelope, data: valid.value } };
}
