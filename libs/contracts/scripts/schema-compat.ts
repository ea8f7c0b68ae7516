// Is every instance valid under schema A also valid under schema B (A ⊆ B)? A conservative
// structural check over the JSON Schema keywords our contracts use: when it cannot prove
// inclusion it says so, and the change counts as incompatible. Plain TypeScript with no imports,
// so Node runs it directly (check-compat.ts) and jest tests it.

export type Schema = boolean | { [keyword: string]: unknown };
/** Resolves a $ref (relative to the schema file it appears in) to [schema, its file]. */
export type Resolver = (ref: string, file: string) => [Schema, string];

// discriminator tells ajv which oneOf branch to report; it also lets oneOf be compared branch by
// branch (oneOfIssues).
const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  '$defs',
  'title',
  'description',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'discriminator',
  // Ours: which fields hold personal data (masking lists are generated from it).
  'x-personal-data',
]);
const HANDLED = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minProperties',
  '$ref',
  'oneOf',
]);

export interface Side {
  schema: Schema;
  file: string;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k]) => !ANNOTATIONS.has(k))
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function typesOf(s: Record<string, unknown>): Set<string> | undefined {
  const t = s.type;
  if (t === undefined) return undefined;
  const list = Array.isArray(t) ? (t as string[]) : [t as string];
  return new Set(list.flatMap((x) => (x === 'number' ? ['number', 'integer'] : [x])));
}

function valuesOf(s: Record<string, unknown>): unknown[] | undefined {
  if ('const' in s) return [s.const];
  return Array.isArray(s.enum) ? (s.enum as unknown[]) : undefined;
}

function deref(side: Side, resolve: Resolver): Side {
  let current = side;
  for (
    let i = 0;
    i < 20 && typeof current.schema === 'object' && typeof current.schema.$ref === 'string';
    i += 1
  ) {
    const { $ref, ...rest } = current.schema;
    const [target, file] = resolve($ref, current.file);
    const siblings = Object.keys(rest).filter((k) => !ANNOTATIONS.has(k));
    if (siblings.length > 0 && typeof target === 'object')
      current = { schema: { ...target, ...rest }, file };
    else current = { schema: target, file };
  }
  return current;
}

const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

/** Reasons why A ⊆ B cannot be shown; empty when every instance of A is an instance of B. */
export function subsetIssues(aSide: Side, bSide: Side, resolve: Resolver, path = ''): string[] {
  const a = deref(aSide, resolve);
  const b = deref(bSide, resolve);
  const at = path || '(root)';
  if (
    b.schema === true ||
    (typeof b.schema === 'object' && Object.keys(b.schema).every((k) => ANNOTATIONS.has(k)))
  )
    return [];
  if (a.schema === false) return [];
  if (a.schema === true) return [`${at}: was unconstrained, is now constrained`];
  if (b.schema === false) return [`${at}: is no longer allowed`];
  const A = a.schema;
  const B = b.schema;
  const same = canonical(A);
  // Equal text is equal meaning only when no nested $ref could point into different revisions.
  if (same === canonical(B) && !same.includes('"$ref"')) return [];
  const issues: string[] = [];

  const unknown = [...new Set([...Object.keys(A), ...Object.keys(B)])].filter(
    (k) => !ANNOTATIONS.has(k) && !HANDLED.has(k),
  );
  for (const k of unknown) {
    if (canonical(A[k]) !== canonical(B[k]))
      issues.push(`${at}: "${k}" changed; its compatibility cannot be shown`);
  }

  if (A.oneOf !== undefined || B.oneOf !== undefined)
    issues.push(...oneOfIssues(a, b, resolve, path));

  const aValues = valuesOf(A);
  const bValues = valuesOf(B);
  if (bValues) {
    if (!aValues) issues.push(`${at}: now restricted to ${bValues.length} value(s)`);
    else {
      const missing = aValues.filter((v) => !bValues.some((w) => canonical(w) === canonical(v)));
      if (missing.length > 0)
        issues.push(
          `${at}: value(s) ${missing.map((v) => JSON.stringify(v)).join(', ')} no longer allowed`,
        );
    }
  }
  const aTypes = typesOf(A);
  const bTypes = typesOf(B);
  if (bTypes) {
    // Without its own type, A is still typed when every oneOf/anyOf branch is.
    const branches = (A.oneOf ?? A.anyOf) as Schema[] | undefined;
    const branchTyped =
      branches !== undefined &&
      branches.every((br) => {
        const d = deref({ schema: br, file: a.file }, resolve).schema;
        const t = typeof d === 'object' ? typesOf(d) : undefined;
        return t !== undefined && [...t].every((x) => bTypes.has(x));
      });
    if (!aTypes && !aValues && !branchTyped)
      issues.push(`${at}: now restricted to type ${[...bTypes].join('|')}`);
    if (aTypes) {
      const extra = [...aTypes].filter((t) => !bTypes.has(t));
      if (extra.length > 0) issues.push(`${at}: type ${extra.join('|')} no longer allowed`);
    }
  }

  const lower = (k: string, what: string) => {
    const bv = num(B[k]);
    const av = num(A[k]);
    if (bv !== undefined && (av === undefined || av < bv))
      issues.push(`${at}: ${what} raised to ${bv}`);
  };
  const upper = (k: string, what: string) => {
    const bv = num(B[k]);
    const av = num(A[k]);
    if (bv !== undefined && (av === undefined || av > bv))
      issues.push(`${at}: ${what} lowered to ${bv}`);
  };
  lower('minLength', 'minLength');
  upper('maxLength', 'maxLength');
  lower('minimum', 'minimum');
  upper('maximum', 'maximum');
  lower('exclusiveMinimum', 'exclusiveMinimum');
  upper('exclusiveMaximum', 'exclusiveMaximum');
  lower('minItems', 'minItems');
  upper('maxItems', 'maxItems');
  lower('minProperties', 'minProperties');
  if (B.pattern !== undefined && B.pattern !== A.pattern)
    issues.push(`${at}: pattern changed to ${JSON.stringify(B.pattern)}`);
  if (B.format !== undefined && B.format !== A.format)
    issues.push(`${at}: format changed to ${JSON.stringify(B.format)}`);
  if (B.uniqueItems === true && A.uniqueItems !== true)
    issues.push(`${at}: items must now be unique`);

  const aReq = new Set((A.required as string[] | undefined) ?? []);
  for (const r of (B.required as string[] | undefined) ?? [])
    if (!aReq.has(r)) issues.push(`${at}: "${r}" is now required`);

  const aProps = (A.properties as Record<string, Schema> | undefined) ?? {};
  const bProps = (B.properties as Record<string, Schema> | undefined) ?? {};
  const bAdditional = (B.additionalProperties as Schema | undefined) ?? true;
  const aAdditional = (A.additionalProperties as Schema | undefined) ?? true;
  for (const [name, aProp] of Object.entries(aProps)) {
    const target = name in bProps ? bProps[name] : bAdditional;
    issues.push(
      ...subsetIssues(
        { schema: aProp, file: a.file },
        { schema: target as Schema, file: b.file },
        resolve,
        `${path}/${name}`,
      ),
    );
  }
  if (aAdditional !== false) {
    for (const [name, bProp] of Object.entries(bProps)) {
      if (!(name in aProps))
        issues.push(
          ...subsetIssues(
            { schema: aAdditional, file: a.file },
            { schema: bProp, file: b.file },
            resolve,
            `${path}/${name}`,
          ),
        );
    }
    // Extra properties A allows beyond its named ones must be allowed by B as well.
    issues.push(
      ...subsetIssues(
        { schema: aAdditional, file: a.file },
        { schema: bAdditional, file: b.file },
        resolve,
        `${path}/*`,
      ),
    );
  }
  if (A.items !== undefined || B.items !== undefined) {
    issues.push(
      ...subsetIssues(
        { schema: (A.items as Schema | undefined) ?? true, file: a.file },
        { schema: (B.items as Schema | undefined) ?? true, file: b.file },
        resolve,
        `${path}[]`,
      ),
    );
  }
  return issues;
}

/** The discriminator values of a schema's oneOf (the command kinds), when they tell its branches apart. */
export function discriminatorValues(side: Side, resolve: Resolver): string[] {
  return [...(branchesByTag(side, resolve)?.keys() ?? [])];
}

/**
 * The branches of a discriminated oneOf by their discriminator value, when that value tells them
 * apart: each branch requires the property and fixes it with a `const`, and no two share one (so
 * an instance can match one branch only). Undefined when that cannot be shown.
 */
function branchesByTag(side: Side, resolve: Resolver): Map<string, Side> | undefined {
  const s = side.schema;
  if (typeof s !== 'object' || !Array.isArray(s.oneOf)) return undefined;
  const tag = (s.discriminator as { propertyName?: unknown } | undefined)?.propertyName;
  if (typeof tag !== 'string') return undefined;
  const out = new Map<string, Side>();
  for (const branch of s.oneOf as Schema[]) {
    const b = deref({ schema: branch, file: side.file }, resolve);
    if (typeof b.schema !== 'object') return undefined;
    const prop = (b.schema.properties as Record<string, Schema> | undefined)?.[tag];
    const value = typeof prop === 'object' && 'const' in prop ? prop.const : undefined;
    const required = (b.schema.required as string[] | undefined) ?? [];
    if (typeof value !== 'string' || !required.includes(tag) || out.has(value)) return undefined;
    out.set(value, b);
  }
  return out;
}

/**
 * A ⊆ B for a oneOf: each branch of A within B's branch of the same discriminator value. B may
 * have more branches (a new command kind: old instances stay valid); a branch A has and B has not
 * is no longer allowed. Without a discriminator that tells branches apart, it cannot be shown.
 */
function oneOfIssues(a: Side, b: Side, resolve: Resolver, path: string): string[] {
  const at = path || '(root)';
  const aBranches = branchesByTag(a, resolve);
  const bBranches = branchesByTag(b, resolve);
  if (!aBranches || !bBranches) {
    // Without a discriminator (a nullable field: null or a date-time), only branches equivalent
    // one for one keep the meaning: then A and B accept the same instances.
    const aList = (a.schema as { oneOf?: Schema[] }).oneOf ?? [];
    const bList = (b.schema as { oneOf?: Schema[] }).oneOf ?? [];
    const equivalent =
      aList.length === bList.length &&
      aList.every((branch, i) => {
        const x = { schema: branch, file: a.file };
        const y = { schema: bList[i] as Schema, file: b.file };
        return subsetIssues(x, y, resolve).length === 0 && subsetIssues(y, x, resolve).length === 0;
      });
    return equivalent ? [] : [`${at}: "oneOf" changed; its compatibility cannot be shown`];
  }
  const tag = (b.schema as { discriminator: { propertyName: string } }).discriminator.propertyName;
  return [...aBranches].flatMap(([value, aBranch]) => {
    const bBranch = bBranches.get(value);
    const where = `${path}(${tag}=${value})`;
    return bBranch
      ? subsetIssues(aBranch, bBranch, resolve, where)
      : [`${where}: is no longer allowed`];
  });
}
