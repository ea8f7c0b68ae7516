import type { KafkaRecord } from '../envelope/cloud-event.codec';
import type { ValidationFailure } from '../validation/validation-failure';
import { describeFailure } from '../validation/validation-failure';

export type DeadLetterStage = 'decode' | 'validate' | 'handle';

/** Where a record came from and how its handling went. */
export interface DeadLetterContext {
  sourceTopic: string;
  partition: number;
  offset: string;
  consumerGroup?: string;
  attempts: number;
  firstFailureAt: Date;
  lastFailureAt: Date;
}

/** What went wrong, for any stage: a contract failure, or a handler that gave up. */
export interface DeadLetterReason {
  stage: DeadLetterStage;
  code: string;
  message: string;
  field?: string;
  rule?: string;
  schemaPath?: string;
  issues?: unknown[];
}

export function dlqTopicFor(topic: string): string {
  return `${topic}.dlq.v1`;
}

export function reasonFromFailure(f: ValidationFailure): DeadLetterReason {
  const first = f.issues[0];
  return {
    stage: f.stage,
    code: f.code,
    message: describeFailure(f),
    field: first.field,
    rule: first.rule,
    ...(first.schemaPath ? { schemaPath: first.schemaPath } : {}),
    issues: f.issues,
  };
}

const MAX_ISSUES_BYTES = 8192;

/** The dlq_* headers (contracts/schemas/dlq/dead-letter-headers.v1.schema.json). */
export function deadLetterHeaders(
  reason: DeadLetterReason,
  ctx: DeadLetterContext,
): Record<string, string> {
  const headers: Record<string, string> = {
    dlq_stage: reason.stage,
    dlq_error_code: reason.code,
    dlq_error_message: reason.message.slice(0, 2000),
    dlq_attempts: String(ctx.attempts),
    dlq_first_failure_at: ctx.firstFailureAt.toISOString(),
    dlq_last_failure_at: ctx.lastFailureAt.toISOString(),
    dlq_source_topic: ctx.sourceTopic,
    dlq_source_partition: String(ctx.partition),
    dlq_source_offset: ctx.offset,
  };
  if (reason.field) headers.dlq_field = reason.field.slice(0, 500);
  if (reason.rule) headers.dlq_rule = reason.rule.slice(0, 100);
  if (reason.schemaPath) headers.dlq_schema_path = reason.schemaPath.slice(0, 500);
  if (ctx.consumerGroup) headers.dlq_consumer_group = ctx.consumerGroup;
  if (reason.issues) {
    let issues = reason.issues;
    let json = JSON.stringify(issues);
    while (Buffer.byteLength(json) > MAX_ISSUES_BYTES && issues.length > 1) {
      issues = issues.slice(0, Math.ceil(issues.length / 2));
      json = JSON.stringify(issues);
    }
    if (Buffer.byteLength(json) <= MAX_ISSUES_BYTES) headers.dlq_issues = json;
  }
  return headers;
}

/**
 * The dead letter for a record: its key, value and headers exactly as received (so a replay
 * sends the very same bytes), plus the dlq_* headers. Earlier dlq_* headers (a record that failed
 * again after a replay) are replaced, not duplicated.
 */
export function deadLetterRecord(
  original: KafkaRecord,
  reason: DeadLetterReason,
  ctx: DeadLetterContext,
): {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, Buffer | string | (Buffer | string)[]>;
} {
  const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const [name, value] of Object.entries(original.headers ?? {})) {
    if (value !== undefined && !name.startsWith('dlq_')) headers[name] = value;
  }
  return {
    key: original.key,
    value: original.value,
    headers: { ...headers, ...deadLetterHeaders(reason, ctx) },
  };
}

/** The original record of a dead letter, as it was before it failed: what a replay re-sends. */
export function originalOfDeadLetter(dead: KafkaRecord): KafkaRecord {
  const headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> = {};
  for (const [name, value] of Object.entries(dead.headers ?? {}))
    if (!name.startsWith('dlq_')) headers[name] = value;
  return { key: dead.key, value: dead.value, headers };
}

/** A dead letter as an operator's tools see it: why, where from, which commune — never the payload. */
export interface DeadLetterSeen {
  stage: string;
  code: string;
  message: string;
  field?: string;
  rule?: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  attempts: number;
  firstFailureAt: string;
  lastFailureAt: string;
  /** From the original's CloudEvents headers, when it had them. */
  eventType?: string;
  eventId?: string;
  eventSource?: string;
  communeCode?: string;
  subject?: string;
}

const text = (v: Buffer | string | (Buffer | string)[] | undefined): string | undefined => {
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : one;
};

/**
 * Reads the dlq_* headers of a dead letter (contracts/schemas/dlq/dead-letter-headers.v1.schema.json).
 * A record without the required headers was not written by our dead-letter writer: it is read as
 * such (code `DLQ_HEADERS_MISSING`), so that it is counted and seen rather than lost.
 */
export function readDeadLetter(record: KafkaRecord, dlqTopic: string): DeadLetterSeen {
  const h = record.headers ?? {};
  const get = (name: string) => text(h[name]);
  const required = [
    'dlq_stage',
    'dlq_error_code',
    'dlq_error_message',
    'dlq_source_topic',
    'dlq_source_partition',
    'dlq_source_offset',
  ];
  const missing = required.filter((name) => !get(name));
  const now = new Date().toISOString();
  const optional = (name: string, key: keyof DeadLetterSeen) => {
    const v = get(name);
    return v ? { [key]: v } : {};
  };
  const communeCode = get('ce_communecode');
  return {
    ...(missing.length > 0
      ? {
          stage: 'unknown',
          code: 'DLQ_HEADERS_MISSING',
          message: `not a dead letter of ours: ${missing.join(', ')} missing`,
          sourceTopic: dlqTopic.replace(/\.dlq\.v1$/, ''),
          sourcePartition: -1,
          sourceOffset: '-1',
        }
      : {
          stage: get('dlq_stage') as string,
          code: get('dlq_error_code') as string,
          message: get('dlq_error_message') as string,
          sourceTopic: get('dlq_source_topic') as string,
          sourcePartition: Number(get('dlq_source_partition')),
          sourceOffset: get('dlq_source_offset') as string,
        }),
    ...optional('dlq_field', 'field'),
    ...optional('dlq_rule', 'rule'),
    attempts: Number(get('dlq_attempts') ?? 1) || 1,
    firstFailureAt: get('dlq_first_failure_at') ?? now,
    lastFailureAt: get('dlq_last_failure_at') ?? now,
    ...optional('ce_type', 'eventType'),
    ...optional('ce_id', 'eventId'),
    ...optional('ce_source', 'eventSource'),
    ...(communeCode && /^[0-9]{5}$/.test(communeCode) ? { communeCode } : {}),
    ...optional('ce_subject', 'subject'),
  };
}
