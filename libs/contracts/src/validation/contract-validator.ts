import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { EVENT_CATALOG } from '../generated/catalog';
import type { EventType, PayloadByEventType } from '../generated/catalog';
import { SCHEMAS } from '../generated/schemas';
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
