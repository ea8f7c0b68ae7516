import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { EVENT_CATALOG } from '../generated/catalog';
import type { EventType, PayloadByEventType } from '../generated/catalog';
import { SCHEMAS } from '../generated/schemas';
import { unstorable } from '../envelope/cloud-event.codec';
import { businessRuleIssues } from './business-rules';
import { failure, fieldOf, unknownEventType } from './validation-failure';
import type { Validated, ValidationIssue } from './validation-failure';

function issueOf(e: ErrorObject): ValidationIssue {
  let path = e.instancePath;
  if (e.keyword === 'required')
    path += `/${(e.params as { missingProperty: string }).missingProperty}`;
  if (e.keyword === 'additionalProperties')
    path += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
  if (e.keyword === 'dependentRequired')
    path += `/${(e.params as { missingProperty: string }).missingProperty}`;
  const field = fieldOf(path);
  const detail =
    e.keyword === 'required' || e.keyword === 'dependentRequired'
      ? 'is required'
      : e.keyword === 'additionalProperties'
        ? 'is not a field of this contract'
        : e.keyword === 'enum'
          ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
          : (e.message ?? e.keyword);
  return { path, field, rule: e.keyword, message: `${field}: ${detail}`, schemaPath: e.schemaPath };
}

/** Dates the contracts accept: what every store and portal format downstream can hold. */
export const YEAR_RANGE = { min: 1800, max: 2199 } as const;

function yearInRange(text: string): boolean {
  const year = Number(text.slice(0, 4));
  return year >= YEAR_RANGE.min && year <= YEAR_RANGE.max;
}

/**
 * RFC 3339 as ajv-formats checks it, and also what the code downstream needs: a timestamp
 * `Date.parse` reads (a leap second, 23:59:60, is valid RFC 3339 but not a JavaScript date) and a
 * year in YEAR_RANGE (the portals' yyyyMMddHHmmss and dd/MM/yyyy forms, the database).
 */
function storableDateTime(base: (s: string) => boolean) {
  return (s: string) => base(s) && !Number.isNaN(Date.parse(s)) && yearInRange(s);
}

/** A JSON pointer from its segments (`~` and `/` escaped). */
const pointerOf = (segments: string[]) =>
  segments.map((k) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/**
 * The first string (value or key) PostgreSQL cannot store, as an issue naming where. Runs on
 * every event: the path is built only for the issue, not for every key passed (profiled).
 */
function unstorableIssue(
  value: unknown,
  segments: string[] = [],
  depth = 0,
): ValidationIssue | undefined {
  if (depth > 64) return undefined;
  if (typeof value === 'string') {
    const broken = unstorable(value);
    if (!broken) return undefined;
    const path = pointerOf(segments);
    const field = fieldOf(path);
    return { path, field, rule: 'storable-text', message: `${field}: must not contain ${broken}` };
  }
  if (value === null || typeof value !== 'object') return undefined;
  // Indexes and keys, not Object.entries: an entries array per object and a pair per key were a
  // twentieth of what ingest allocated (a sampling heap profile of bench:dossier).
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      segments.push(String(i));
      const found = unstorableIssue(value[i], segments, depth + 1);
      segments.pop();
      if (found) return found;
    }
    return undefined;
  }
  const object = value as Record<string, unknown>;
  for (const k of Object.keys(object)) {
    const brokenKey = unstorable(k);
    if (brokenKey) {
      const path = pointerOf(segments);
      const field = fieldOf(path);
      return {
        path,
        field,
        rule: 'storable-text',
        message: `${field}: a property name must not contain ${brokenKey}`,
      };
    }
    segments.push(k);
    const found = unstorableIssue(object[k], segments, depth + 1);
    segments.pop();
    if (found) return found;
  }
  return undefined;
}

/**
 * Validates payloads against their contract: the JSON Schema (ajv, compiled once per type), then
 * the business rules. Never throws on any input; returns the issues instead.
 */
export class ContractValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly schemaIdByType: Map<string, string>;

  constructor() {
    this.ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      // `required` inside if/then names properties declared at the top level: standard, intended.
      strictRequired: false,
      allowUnionTypes: true,
      discriminator: true,
    });
    addFormats(this.ajv);
    // An annotation, not a constraint: the field holds personal data (masking lists are generated from it).
    this.ajv.addKeyword({ keyword: 'x-personal-data', schemaType: 'boolean' });
    const formats = this.ajv.formats as Record<
      string,
      { validate?: (s: string) => boolean } | ((s: string) => boolean)
    >;
    for (const name of ['date-time', 'date']) {
      const f = formats[name];
      const base = typeof f === 'function' ? f : (f?.validate ?? (() => true));
      this.ajv.addFormat(name, { type: 'string', validate: storableDateTime(base) });
    }
    for (const schema of SCHEMAS) this.ajv.addSchema(schema);
    this.schemaIdByType = new Map(EVENT_CATALOG.map((e) => [e.ceType, e.schemaId]));
  }

  knows(type: string): type is EventType {
    return this.schemaIdByType.has(type);
  }

  private validatorFor(type: EventType): ValidateFunction {
    let fn = this.compiled.get(type);
    if (!fn) {
      const id = this.schemaIdByType.get(type) as string;
      fn = this.ajv.getSchema(id);
      if (!fn) throw new Error(`contract schema ${id} is not loaded`);
      this.compiled.set(type, fn);
    }
    return fn;
  }

  validate<T extends EventType>(type: T, payload: unknown): Validated<PayloadByEventType[T]>;
  validate(type: string, payload: unknown): Validated<unknown>;
  validate(type: string, payload: unknown): Validated<unknown> {
    if (!this.knows(type)) {
      return unknownEventType(type);
    }
    // Text the database would refuse fails here, before any store sees it (design: the contract
    // lets through only what every later step can hold).
    const unstorableText = unstorableIssue(payload);
    if (unstorableText) return failure('validate', 'CONTRACT_VIOLATION', [unstorableText], type);
    const fn = this.validatorFor(type);
    if (!fn(payload)) {
      // `if` errors only say "must match then": the nested errors name the real problem.
      const issues = (fn.errors ?? []).filter((e) => e.keyword !== 'if').map(issueOf);
      const list = issues.length > 0 ? issues : (fn.errors ?? []).map(issueOf);
      return failure(
        'validate',
        'CONTRACT_VIOLATION',
        list as [ValidationIssue, ...ValidationIssue[]],
        type,
      );
    }
    const business = businessRuleIssues(type, payload);
    if (business.length > 0) {
      return failure(
        'validate',
        'BUSINESS_RULE_VIOLATION',
        business as [ValidationIssue, ...ValidationIssue[]],
        type,
      );
    }
    return { ok: true, value: payload };
  }
}
