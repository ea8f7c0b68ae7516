// A bench's statement counter (BENCH_COUNT_STATEMENTS=1), preloaded with `node --require` into
// every process the bench starts. It counts each node-postgres query by its text and adds up how
// long the client waited for its answer (from the call to the callback or the promise's end:
// the pool's queue is before this, the wire and the server's work inside it), and writes the
// counts to $BENCH_STATEMENT_COUNTS_DIR/<pid>.json every 250 ms, where the bench reads them at a
// phase's start and end. It costs the process a little (a write of the file, in place: a rename
// each time was 2.6 % of a busy service's samples), so compare counted runs with counted runs. PostgreSQL's own account (pg_stat_statements) is better and the bench
// prefers it, but it needs the module in `shared_preload_libraries`, which only a restart of the
// server adds; this needs nothing of the server, and it says which process sent what.
// By hand because nothing does this: node-postgres has no query hook, and OpenTelemetry's pg
// instrumentation makes a span per query, far more work per call than the count it would give.
'use strict';
const Module = require('node:module');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.BENCH_STATEMENT_COUNTS_DIR;
/** statement text (whitespace folded; the bench drops schema names and cuts it) → [calls, ms waited] */
const counts = new Map();

function keyOf(config) {
  const text = typeof config === 'string' ? config : config && config.text;
  return typeof text === 'string' ? text.replace(/\s+/g, ' ').trim().slice(0, 300) : '(other)';
}

function count(key, startedAt) {
  const entry = counts.get(key) ?? [0, 0];
  entry[0] += 1;
  entry[1] += Number(process.hrtime.bigint() - startedAt) / 1e6;
  counts.set(key, entry);
}

function instrument(pg) {
  const proto = pg && pg.Client && pg.Client.prototype;
  if (!proto || proto.query.benchCounted) return;
  const query = proto.query;
  proto.query = function countedQuery(config, values, callback) {
    const key = keyOf(config);
    const startedAt = process.hrtime.bigint();
    const last = [config, values, callback].findLastIndex((a) => typeof a === 'function');
    if (last >= 0) {
      const args = [config, values, callback];
      const done = args[last];
      args[last] = function counted(...results) {
        count(key, startedAt);
        return done.apply(this, results);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, arguments);
    if (result && typeof result.then === 'function')
      result.then(
        () => count(key, startedAt),
        () => count(key, startedAt),
      );
    else count(key, startedAt);
    return result;
  };
  proto.query.benchCounted = true;
}

if (dir) {
  const load = Module._load;
  Module._load = function loadCounted(request) {
    const loaded = load.apply(this, arguments);
    if (request === 'pg') instrument(loaded);
    return loaded;
  };
  const file = join(dir, `${process.pid}.json`);
  const name = process.env.BENCH_PROCESS_NAME ?? process.argv[1] ?? String(process.pid);
  let written = 0;
  const write = () => {
    if (counts.size === 0) return;
    const calls = [...counts.values()].reduce((sum, [n]) => sum + n, 0);
    if (calls === written) return;
    written = calls;
    // In place: the bench reads it again if it catches a write half done.
    writeFileSync(file, JSON.stringify({ name, counts: [...counts] }));
  };
  setInterval(write, 250).unref();
  process.on('exit', write);
}
