// Fails when a contract schema changed incompatibly without a version bump (contracts/README.md).
//   node libs/contracts/scripts/check-compat.ts [--base REV]   (default: HEAD~1, or CONTRACTS_BASE)
// Compares every schema under contracts/schemas at REV with the working tree:
//   consumed topics (commune.*)  backward: every event valid before is still valid
//   produced topics (sync.*, dead letters)  forward: every event valid now was valid before
//   ops.commands                  backward: the sync services (readers) deploy before sync-monitor
//   ops.command-results           forward: the sync services (writers) deploy before sync-monitor;
//                                 except that it may name a command kind new in ops.commands (a
//                                 service answers one only after the new sync-monitor sent it)
// A schema file removed, or changed beyond that, needs a new versioned file instead (….v2.schema.json).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { discriminatorValues, subsetIssues } from './schema-compat.ts';
import type { Resolver, Schema } from './schema-compat.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');
const schemasDir = join(root, 'contracts', 'schemas');
const argBase = process.argv.indexOf('--base');
const base = argBase > 0 ? process.argv[argBase + 1] : (process.env.CONTRACTS_BASE ?? 'HEAD~1');

type Direction = 'backward' | 'forward' | 'both';
const DIRECTION: Record<string, Direction> = {
  dossier: 'backward',
  'civil-status': 'backward',
  land: 'backward',
  sync: 'forward',
  dlq: 'forward',
};
/** Files whose direction is not their area's: both ends ours, deployed readers/writers first. */
const FILE_DIRECTION: Record<string, Direction> = {
  'ops/ops-command.v1.schema.json': 'backward',
  'ops/ops-command-result.v1.schema.json': 'forward',
};

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function listNew(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? listNew(join(dir, e.name))
      : e.name.endsWith('.schema.json')
        ? [relative(schemasDir, join(dir, e.name))]
        : [],
  );
}

function resolverOver(files: Map<string, Schema>): Resolver {
  return (ref, file) => {
    const [path = '', pointer = ''] = ref.split('#');
    const target = path ? posix.normalize(posix.join(posix.dirname(file), path)) : file;
    let node = files.get(target);
    if (node === undefined)
      throw new Error(`${file}: $ref ${ref} points to a missing file ${target}`);
    for (const seg of pointer.split('/').filter(Boolean)) {
      node = (node as Record<string, Schema>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
      if (node === undefined) throw new Error(`${file}: $ref ${ref} points nowhere`);
    }
    return [node, target];
  };
}

let baseOk = true;
try {
  git('rev-parse', '--verify', '--quiet', `${base}^{commit}`);
} catch {
  baseOk = false;
}
if (!baseOk) {
  process.stdout.write(
    `contracts compatibility: no revision ${base} to compare with (first commit?): nothing to check\n`,
  );
  process.exit(0);
}

const oldFiles = new Map<string, Schema>();
for (const path of git('ls-tree', '-r', '--name-only', base, '--', 'contracts/schemas')
  .split('\n')
  .filter((p) => p.endsWith('.schema.json'))) {
  oldFiles.set(
    relative('contracts/schemas', path),
    JSON.parse(git('show', `${base}:${path}`)) as Schema,
  );
}
const newFiles = new Map<string, Schema>(
  listNew(schemasDir).map((p) => [
    p,
    JSON.parse(readFileSync(join(schemasDir, p), 'utf8')) as Schema,
  ]),
);
const oldResolve = resolverOver(oldFiles);
const newResolve = resolverOver(newFiles);
/** Files are tagged old:… or new:…, so a $ref always resolves within its own revision. */
const resolveTagged: Resolver = (ref, from) => {
  const [revision, file] = [from.slice(0, 3), from.slice(4)];
  const [schema, target] = (revision === 'old' ? oldResolve : newResolve)(ref, file);
  return [schema, `${revision}:${target}`];
};

/** Command kinds ops.commands has now and had not at the base revision. */
const COMMANDS = 'ops/ops-command.v1.schema.json';
const newCommandKinds = new Set(
  newFiles.has(COMMANDS)
    ? discriminatorValues(
        { schema: newFiles.get(COMMANDS) as Schema, file: `new:${COMMANDS}` },
        resolveTagged,
      ).filter(
        (kind) =>
          !oldFiles.has(COMMANDS) ||
          !discriminatorValues(
            { schema: oldFiles.get(COMMANDS) as Schema, file: `old:${COMMANDS}` },
            resolveTagged,
          ).includes(kind),
      )
    : [],
);

/**
 * The base revision's results schema with its `command` enum widened by the command kinds new
 * since: a service answers a new kind only once the new sync-monitor sent one, so naming it is
 * compatible; anything else the results change must still be.
 */
function resultsAsAnswerable(file: string, schema: Schema): Schema {
  const command = (schema as { properties?: { command?: { enum?: unknown[] } } }).properties
    ?.command;
  if (file !== 'ops/ops-command-result.v1.schema.json' || !command?.enum) return schema;
  const s = schema as { properties: Record<string, Schema> };
  return {
    ...s,
    properties: {
      ...s.properties,
      command: { ...command, enum: [...command.enum, ...newCommandKinds] },
    },
  };
}

const problems: string[] = [];
for (const [file, oldSchema] of oldFiles) {
  const area = file.split('/')[0] as string;
  if (area === 'common') continue; // checked through every $ref that uses it
  const newSchema = newFiles.get(file);
  if (newSchema === undefined) {
    problems.push(`${file}: removed. A published contract stays until its topic is retired.`);
    continue;
  }
  const direction = FILE_DIRECTION[file] ?? DIRECTION[area] ?? 'both';
  const oldSide = { schema: oldSchema, file: `old:${file}` };
  const newSide = { schema: newSchema, file: `new:${file}` };
  const found: string[] = [];
  if (direction !== 'forward') {
    found.push(...subsetIssues(oldSide, newSide, resolveTagged).map((i) => `backward: ${i}`));
  }
  if (direction !== 'backward') {
    const answerable = { schema: resultsAsAnswerable(file, oldSchema), file: oldSide.file };
    found.push(...subsetIssues(newSide, answerable, resolveTagged).map((i) => `forward: ${i}`));
  }
  if (found.length > 0) problems.push(`${file}:\n    ${found.join('\n    ')}`);
}

if (problems.length > 0) {
  process.stderr.write(
    `contracts compatibility against ${base}: incompatible change without a version bump\n  ${problems.join('\n  ')}\n` +
      'Add a new versioned schema (…v2.schema.json), message and topic instead; see contracts/README.md.\n',
  );
  process.exit(1);
}
process.stdout.write(
  `contracts compatibility against ${base}: ${oldFiles.size} schema file(s), no incompatible change\n`,
);
