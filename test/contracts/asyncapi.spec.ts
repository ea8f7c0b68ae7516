import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import { EVENT_CATALOG, TOPIC_SPECS } from '@lienthong/contracts';

const contracts = resolve(__dirname, '../../contracts');

function schemaFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? schemaFiles(join(dir, e.name))
      : e.name.endsWith('.schema.json')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('contracts/asyncapi.yaml', () => {
  let document: Awaited<ReturnType<ReturnType<typeof fromFile>['parse']>>['document'];
  let errors: string[];

  beforeAll(async () => {
    const result = await fromFile(new Parser(), join(contracts, 'asyncapi.yaml')).parse();
    document = result.document;
    errors = result.diagnostics
      // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
      .filter((d) => Number(d.severity) <= 1)
      .map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`);
  });

  it('parses and validates as AsyncAPI 3.0 with no error or warning', () => {
    expect(errors).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
  });

  it('describes exactly the topics of topics.json, dead-letter topics included', () => {
    const addresses = document
      ?.channels()
      .all()
      .map((c) => c.address())
      .sort();
    expect(addresses).toEqual(TOPIC_SPECS.map((t) => t.name).sort());
  });

  it('gives every topic a Lienthong service consumes a dead-letter channel (a bad record never stalls its consumer)', () => {
    const addresses = new Set(
      document
        ?.channels()
        .all()
        .map((c) => c.address()),
    );
    for (const t of [
      'commune.dossier.events.v1',
      'commune.civil-status.events.v1',
      'commune.land.events.v1',
      'ops.commands.v1',
      // sync-monitor's read model.
      'sync.status.v2',
      'sync.health.v2',
      'sync.reconcile.v1',
      'sync.exchanges.v1',
      'sync.indicators.v1',
      'ops.command-results.v1',
    ]) {
      expect(addresses.has(`${t}.dlq.v1`)).toBe(true);
    }
  });

  it('has one message per CloudEvents type, and every schema file is used', () => {
    expect(new Set(EVENT_CATALOG.map((e) => e.ceType)).size).toBe(EVENT_CATALOG.length);
    const used = new Set([
      ...EVENT_CATALOG.map((e) => e.schemaId),
      'common/defs.v1.schema.json',
      'dlq/dead-letter-headers.v1.schema.json',
    ]);
    const files = schemaFiles(join(contracts, 'schemas')).map((f) =>
      relative(join(contracts, 'schemas'), f),
    );
    expect(files.filter((f) => !used.has(f))).toEqual([]);
    for (const f of files)
      expect(
        (JSON.parse(readFileSync(join(contracts, 'schemas', f), 'utf8')) as { $id: string }).$id,
      ).toBe(f);
  });
});
