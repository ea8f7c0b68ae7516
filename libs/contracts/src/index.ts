export * from './generated/payloads';
export { EVENT_CATALOG, EVENT_TYPES, TOPICS, TOPIC_SPECS } from './generated/catalog';
export type {
  EventCatalogEntry,
  EventType,
  MessageName,
  PayloadByEventType,
  TopicName,
} from './generated/catalog';
export { SCHEMAS } from './generated/schemas';
export { PERSONAL_DATA_FIELDS } from './generated/personal-data';
export { ContractValidator } from './validation/contract-validator';
export { birthYearOf, decodeCenturySex, personalIdIssues } from './validation/personal-id';
export { describeFailure, fieldOf, toProblemDetails } from './validation/validation-failure';
export type {
  Validated,
  ValidationErrorCode,
  ValidationFailure,
  ValidationIssue,
  ValidationStage,
} from './validation/validation-failure';
export { decodeEvent, encodeEvent, encodeSibling } from './envelope/cloud-event.codec';
export type {
  DecodedEvent,
  EncodeOptions,
  EncodedRecord,
  EventEnvelope,
  KafkaRecord,
} from './envelope/cloud-event.codec';
export { readEvent } from './read-event';
export { recordToStructured, structuredToRecord } from './envelope/structured-event';
export {
  AUTHORITY_HEADER,
  authorityCovers,
  checkAuthority,
  formatAuthority,
  parseAuthority,
} from './authority/publisher-authority';
export type { PublisherAuthority } from './authority/publisher-authority';
export type { ContractEvent } from './read-event';
export {
  deadLetterHeaders,
  deadLetterRecord,
  dlqTopicFor,
  originalOfDeadLetter,
  readDeadLetter,
  reasonFromFailure,
} from './dead-letter/dead-letter';
export type {
  DeadLetterContext,
  DeadLetterReason,
  DeadLetterSeen,
  DeadLetterStage,
} from './dead-letter/dead-letter';
export { formatResultRef, parseResultRef } from './result-ref';
export type { ResultRef } from './result-ref';
