import { subsetIssues } from './schema-compat.ts';
import type { Resolver, Schema } from './schema-compat.ts';

const files: Record<string, Schema> = {
  'common/defs.json': { $defs: { code: { type: 'string', pattern: '^[0-9]{5}$' } } },
};
const resolve: Resolver = (ref, from) => {
  const [path = '', pointer = ''] = ref.split('#');
  const file = path ? path.replace(/^\.\.\//, '') : from;
  let node = files[file] as Schema;
  for (const seg of pointer.split('/').filter(Boolean))
    node = (node as Record<string, Schema>)[seg] as Schema;
  return [node, file];
};
const side = (schema: Schema) => ({ schema, file: 'dossier/x.json' });
/** Every instance of `a` is an instance of `b`. */
const included = (a: Schema, b: Schema) => subsetIssues(side(a), side(b), resolve);

const strict = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

describe('schema inclusion (the compatibility rule)', () => {
  const v1 = strict({ MaHoSo: { type: 'string', maxLength: 50 }, TrangThai: { enum: [1, 2, 3] } }, [
    'MaHoSo',
  ]);

  it('an identical schema is compatible both ways', () => {
    expect(included(v1, v1)).toEqual([]);
  });

  it('adding an optional field: old events stay valid (backward), new ones break strict old readers (forward)', () => {
    const v2 = strict(
      { ...(v1 as { properties: Record<string, Schema> }).properties, Email: { type: 'string' } },
      ['MaHoSo'],
    );
    expect(included(v1, v2)).toEqual([]);
    expect(included(v2, v1)).toEqual(['/Email: is no longer allowed']);
  });

  it('a newly required field breaks old events', () => {
    const v2 = strict((v1 as { properties: Record<string, Schema> }).properties, [
      'MaHoSo',
      'TrangThai',
    ]);
    expect(included(v1, v2)).toEqual(['(root): "TrangThai" is now required']);
  });

  it('a removed field of a strict schema breaks old events that carry it', () => {
    const v2 = strict({ MaHoSo: { type: 'string', maxLength: 50 } }, ['MaHoSo']);
    expect(included(v1, v2)).toEqual(['/TrangThai: is no longer allowed']);
  });

  it('a widened enum is backward compatible only; a narrowed one neither way for old events', () => {
    const wider = strict(
      { MaHoSo: { type: 'string', maxLength: 50 }, TrangThai: { enum: [1, 2, 3, 4] } },
      ['MaHoSo'],
    );
    expect(included(v1, wider)).toEqual([]);
    expect(included(wider, v1)).toEqual(['/TrangThai: value(s) 4 no longer allowed']);
  });

  it('tightened lengths, bounds and patterns are caught', () => {
    expect(included({ type: 'string', maxLength: 50 }, { type: 'string', maxLength: 40 })).toEqual([
      '(root): maxLength lowered to 40',
    ]);
    expect(included({ type: 'integer', minimum: 0 }, { type: 'integer', minimum: 1 })).toEqual([
      '(root): minimum raised to 1',
    ]);
    expect(included({ type: 'string' }, { type: 'string', pattern: '^[0-9]+$' })).toEqual([
      '(root): pattern changed to "^[0-9]+$"',
    ]);
    expect(included({ type: ['string', 'null'] }, { type: 'string' })).toEqual([
      '(root): type null no longer allowed',
    ]);
  });

  it('follows $ref into shared definitions', () => {
    const viaRef = strict({ maXa: { $ref: '../common/defs.json#/$defs/code' } });
    const inline = strict({ maXa: { type: 'string', pattern: '^[0-9]{5}$' } });
    expect(included(viaRef, inline)).toEqual([]);
    expect(included(strict({ maXa: { type: 'string' } }), viaRef)).toEqual([
      '/maXa: pattern changed to "^[0-9]{5}$"',
    ]);
  });

  it('cannot prove a changed conditional, so reports it', () => {
    const a = {
      ...(v1 as object),
      allOf: [{ if: { required: ['TrangThai'] }, then: { required: ['MaHoSo'] } }],
    };
    const b = {
      ...(v1 as object),
      allOf: [{ if: { required: ['TrangThai'] }, then: { required: ['Email'] } }],
    };
    expect(included(a, b)).toEqual(['(root): "allOf" changed; its compatibility cannot be shown']);
  });
});

describe('schema inclusion: typed unions', () => {
  it('a oneOf of objects already only admits objects', () => {
    const union = {
      oneOf: [
        { type: 'object', properties: { a: { const: 1 } } },
        { type: 'object', properties: { a: { const: 2 } } },
      ],
    };
    expect(included(union, { ...union, type: 'object' })).toEqual([]);
  });
});

describe('schema inclusion: discriminated unions (a command per branch)', () => {
  const command = (name: string, properties: Record<string, Schema> = {}): Schema =>
    strict({ command: { const: name }, ...properties }, ['command']);
  const union = (defs: Record<string, Schema>): Schema => ({
    type: 'object',
    discriminator: { propertyName: 'command' },
    oneOf: Object.keys(defs).map((k) => ({ $ref: `#/$defs/${k}` })),
    $defs: defs,
  });
  // $refs of a union point into its own file: resolve them against the schema under test.
  const withDefs =
    (schema: Schema): Resolver =>
    (ref) => {
      const name = ref.split('/').pop() as string;
      return [(schema as { $defs: Record<string, Schema> }).$defs[name] ?? false, 'x'];
    };
  const includedUnion = (a: Schema, b: Schema) =>
    subsetIssues({ schema: a, file: 'a' }, { schema: b, file: 'b' }, (ref, file) =>
      withDefs(file === 'a' ? a : b)(ref, file),
    );

  const v1 = union({ pause: command('pause'), resume: command('resume') });

  it('a new branch keeps every old instance valid (backward), not the other way (forward)', () => {
    const v2 = union({
      pause: command('pause'),
      resume: command('resume'),
      resync: command('resync'),
    });
    expect(includedUnion(v1, v1)).toEqual([]);
    expect(includedUnion(v1, v2)).toEqual([]);
    expect(includedUnion(v2, v1)).toEqual(['(command=resync): is no longer allowed']);
  });

  it('a change inside a branch behind its $ref is compared, not taken as unchanged text', () => {
    const v2 = union({
      pause: command('pause', { target: { type: 'string' } }),
      resume: command('resume'),
    });
    expect(includedUnion(v1, v2)).toEqual([]);
    expect(includedUnion(v2, v1)).toEqual(['(command=pause)/target: is no longer allowed']);
  });

  it('branches a discriminator cannot tell apart are not compared one by one', () => {
    const ambiguous = union({ pause: command('pause'), again: command('pause') });
    expect(includedUnion(ambiguous, union({ pause: command('pause') }))).toEqual([
      '(root): "oneOf" changed; its compatibility cannot be shown',
    ]);
  });

  it('a nullable field (null or a value, no discriminator) compares branch by branch', () => {
    const nullable = (max: number): Schema => ({
      oneOf: [{ type: 'null' }, { type: 'string', maxLength: max }],
    });
    expect(included(nullable(30), nullable(30))).toEqual([]);
    expect(included(nullable(30), nullable(40))).toEqual([
      '(root): "oneOf" changed; its compatibility cannot be shown',
    ]);
  });
});
