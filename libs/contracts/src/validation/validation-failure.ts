/**
 * One broken rule, named precisely enough for a commune integrator to fix their system: where
 * (JSON pointer and a readable field path), which rule, and a message. Messages never quote the
 * offending value: it may be personal data.
 */
export interface ValidationIssue {
  /** JSON pointer into the payload (or the header name for envelope issues), e.g. /DinhDanhCHS/0/SoDinhDanh. */
  path: string;
  /** The same as a readable path, e.g. DinhDanhCHS[0].SoDinhDanh, or ce_communecode. */
  field: string;
  /** The rule: a JSON Schema keyword (required, pattern, enum, …) or a named business rule. */
  rule: string;
  message: string;
  /** Where the rule lives in the schema, for schema rules. */
  schemaPath?: string;
}

export type ValidationStage = 'decode' | 'validate';

/** Stable codes: the DLQ's dlq_error_code and the HTTP API's problem `code` use them as they are. */
export type ValidationErrorCode =
  | 'NOT_A_CLOUDEVENT'
  | 'ENVELOPE_INVALID'
  | 'MALFORMED_JSON'
  | 'UNKNOWN_EVENT_TYPE'
  | 'WRONG_TOPIC'
  | 'CONTRACT_VIOLATION'
  | 'BUSINESS_RULE_VIOLATION'
  /** A commune event without a trusted writer's authority (docs/security.md). */
  | 'UNAUTHENTICATED_PUBLISHER'
  /** A commune event whose publisher may not publish for that commune. */
  | 'FORBIDDEN_COMMUNE';

/** Why a message was refused: one structure shared by DLQ headers and HTTP error responses. */
export interface ValidationFailure {
  stage: ValidationStage;
  code: ValidationErrorCode;
  /** The CloudEvents type, when it could be read. */
  eventType?: string;
  /** At least one issue; the first is the headline. */
  issues: [ValidationIssue, ...ValidationIssue[]];
}

export type Validated<T> = { ok: true; value: T } | { ok: false; failure: ValidationFailure };

export function failure(
  stage: ValidationStage,
  code: ValidationErrorCode,
  issues: [ValidationIssue, ...ValidationIssue[]],
  eventType?: string,
): { ok: false; failure: ValidationFailure } {
  return { ok: false, failure: { stage, code, issues, ...(eventType ? { eventType } : {}) } };
}

export function unknownEventType(type: string): { ok: false; failure: ValidationFailure } {
  return failure(
    'validate',
    'UNKNOWN_EVENT_TYPE',
    [
      {
        path: 'ce_type',
        field: 'ce_type',
        rule: 'known-event-type',
        message: 'ce_type: is not an event type of any Lienthong contract',
      },
    ],
    type,
  );
}

/** A one-line summary: the first issue, and how many more. */
export function describeFailure(f: ValidationFailure): string {
  const [first, ...rest] = f.issues;
  return `${f.code}: ${first.message}${rest.length > 0 ? ` (+${rest.length} more)` : ''}`;
}

/** JSON pointer → readable path: /DinhDanhCHS/0/SoDinhDanh → DinhDanhCHS[0].SoDinhDanh. */
export function fieldOf(pointer: string): string {
  if (pointer === '' || pointer === '/') return '(payload)';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/**
 * RFC 9457 problem details for the HTTP APIs (ingest-gateway, sync-monitor): the same issues the
 * DLQ carries, so a commune sees one vocabulary whichever way it sends.
 */
export function toProblemDetails(f: ValidationFailure): {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ValidationErrorCode;
  eventType?: string;
  issues: ValidationIssue[];
} {
  return {
    type: `https://lienthong.vn/problems/${f.code.toLowerCase().replace(/_/g, '-')}`,
    title:
      f.code === 'UNKNOWN_EVENT_TYPE'
        ? 'Unknown event type'
        : f.code === 'UNAUTHENTICATED_PUBLISHER'
          ? 'The publisher is not authenticated'
          : f.code === 'FORBIDDEN_COMMUNE'
            ? 'The publisher may not publish for this commune'
            : 'The event breaks its contract',
    status:
      f.code === 'UNAUTHENTICATED_PUBLISHER' ? 401 : f.code === 'FORBIDDEN_COMMUNE' ? 403 : 422,
    detail: describeFailure(f),
    code: f.code,
    ...(f.eventType ? { eventType: f.eventType } : {}),
    issues: f.issues,
  };
}
