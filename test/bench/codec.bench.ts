// The contract codec's cost per event, the CPU every sync service spends on each record it
// consumes (decode the CloudEvent, validate its payload) and on each status it publishes (two
// CloudEvents per ingested event: sync.status.v2 and v1). In-process, no stack needed.
//
// Each figure is the median of BENCH_CODEC_ROUNDS rounds of BENCH_CODEC_OPS calls, in µs per
// event, next to what the same run measures for:
// - JSON.parse / JSON.stringify of the same payload: the floor any JSON codec pays;
// - the cloudevents SDK's own Kafka binding (Kafka.toEvent + validate, Kafka.binary), which the
//   codec used to call and now calls only for the attributes (it parsed and serialised the
//   payload a second time);
// - ingest's fingerprint of a payload (canonical JSON + SHA-256) with the first canonical form
//   (JSON.stringify with a replacer rebuilding every object sorted), which it replaced;
// - kafkajs encoding a status record with its CloudEvents headers, as patched
//   (patches/kafkajs+2.2.4.patch: buffers from Node's pool, not zero-filled) and as kafkajs
//   2.2.4 ships it (the same code with every such buffer zero-filled, emulated here).
//
//   npm run bench:codec
import { createHash } from 'node:crypto';
import { CloudEvent, Kafka } from 'cloudevents';
import type { KafkaMessage } from 'cloudevents';
import {
  ContractValidator,
  EVENT_TYPES,
  TOPICS,
  decodeEvent,
  encodeEvent,
  readEvent,
} from '@lienthong/contracts';
import type { EncodedRecord, SyncStatusV2 } from '@lienthong/contracts';
import { fingerprint } from '@lienthong/sync-engine';
import { Rng, dossierLifecycle, lifecycleRecords } from '@lienthong/testing';
import { fmt, knob, machine, median, runMain } from './bench-kit';

// kafkajs' own record encoder (what producer.send runs per message); no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const KafkaEncoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeEncoder(e: unknown): unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkaRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: {
  offsetDelta: number;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}) => unknown;

const OPS = knob('BENCH_CODEC_OPS', 20_000);
const ROUNDS = knob('BENCH_CODEC_ROUNDS', 5);

/** µs per call of `fn` over `inputs` (cycled), median of the rounds, after a warm-up round. */
function perCall<T>(inputs: T[], fn: (input: T, i: number) => unknown): number {
  const round = () => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < OPS; i += 1) fn(inputs[i % inputs.length] as T, i);
    return Number(process.hrtime.bigint() - started) / 1000 / OPS;
  };
  round();
  return median(Array.from({ length: ROUNDS }, round));
}

function main(): Promise<void> {
  // The first record of 200 dossiers (a full header snapshot, ~1 KB) and statuses like the ones
  // ingest writes for them.
  const records = Array.from({ length: 200 }, (_, i) => {
    const life = dossierLifecycle(new Rng(i + 1), {});
    return lifecycleRecords(life)[0] as EncodedRecord;
  });
  const texts = records.map((r) => r.value.toString('utf8'));
  const statuses: SyncStatusV2[] = records.map((r, i) => ({
    entity: {
      domain: 'dossier',
      type: 'dossier',
      key: r.key,
      communeCode: r.headers.ce_communecode as string,
    },
    state: 'ACCEPTED',
    sequence: i + 1,
    attempt: 0,
    causationId: r.headers.ce_id as string,
    target: 'dvcqg',
    occurredAt: new Date().toISOString(),
  }));
  const validator = new ContractValidator();
  const topic = TOPICS.communeDossierEvents;
  for (const r of records) {
    const read = readEvent(r, topic, validator);
    if (!read.ok) throw new Error(`bench input does not pass its contract: ${read.failure.code}`);
  }

  const parse = perCall(texts, (t) => JSON.parse(t));
  const sdkDecode = perCall(records, (r) => {
    const text = r.value.toString('utf8');
    const message: KafkaMessage<string> = {
      key: r.key,
      value: text,
      headers: r.headers,
      body: text,
    };
    (Kafka.toEvent(message) as CloudEvent<unknown>).validate();
  });
  const decode = perCall(records, (r) => decodeEvent(r));
  const read = perCall(records, (r) => readEvent(r, topic, validator));
  const stringify = perCall(statuses, (s) => JSON.stringify(s));
  const options = (s: SyncStatusV2, i: number) => ({
    source: '/lienthong/dossier-sync',
    subject: `dossier:${s.entity.key}`,
    time: s.occurredAt,
    id: `dossier-sync-outbox-v2-${i}`,
  });
  const sdkEncode = perCall(statuses, (s, i) =>
    Kafka.binary(
      new CloudEvent(
        {
          ...options(s, i),
          type: EVENT_TYPES.SyncStatusV2,
          datacontenttype: 'application/json',
          data: s,
        },
        true,
      ),
    ),
  );
  const encode = perCall(statuses, (s, i) =>
    encodeEvent(EVENT_TYPES.SyncStatusV2, s, options(s, i)),
  );
  const validate = perCall(statuses, (s) => validator.validate(EVENT_TYPES.SyncStatusV2, s));

  const payloads = texts.map((t) => JSON.parse(t) as unknown);
  const firstCanonical = (value: unknown) =>
    JSON.stringify(value, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
          )
        : v,
    );
  const payloadStringify = perCall(payloads, (p) => JSON.stringify(p));
  const fingerprintNow = perCall(payloads, (p) => fingerprint(p));
  const fingerprintBefore = perCall(payloads, (p) =>
    createHash('sha256').update(firstCanonical(p)).digest('hex'),
  );

  const encoded = statuses.map((s, i) => encodeEvent(EVENT_TYPES.SyncStatusV2, s, options(s, i)));
  const encodeRecord = (e: (typeof encoded)[number], i: number) =>
    new KafkaEncoder().writeEncoder(
      kafkaRecord({ offsetDelta: i, key: e.key, value: e.value, headers: e.headers }),
    );
  const recordPatched = perCall(encoded, encodeRecord);
  const unfilled = Buffer.allocUnsafe;
  Buffer.allocUnsafe = (size: number) => Buffer.alloc(size);
  let recordStock: number;
  try {
    recordStock = perCall(encoded, encodeRecord);
  } finally {
    Buffer.allocUnsafe = unfilled;
  }

  const row = (what: string, us: number, base: number, baseName: string) =>
    `| ${what} | ${fmt(us, 1)} | ${fmt(us / base, 1)}× ${baseName} |`;
  const lines = [
    `codec benchmark: ${machine()}; ${OPS.toLocaleString('en')} calls × ${ROUNDS} rounds per figure (median), µs per event`,
    '',
    '| per event | µs | ratio |',
    '| --- | ---: | --- |',
    row('JSON.parse of a dossier record (~1 KB)', parse, parse, 'JSON.parse'),
    row(
      'SDK: Kafka.toEvent + validate (what decode called before)',
      sdkDecode,
      parse,
      'JSON.parse',
    ),
    row(
      'decodeEvent (envelope checks, SDK on the attributes, JSON.parse)',
      decode,
      parse,
      'JSON.parse',
    ),
    row('readEvent (decodeEvent + topic + contract validation)', read, parse, 'JSON.parse'),
    row('JSON.stringify of a sync status', stringify, stringify, 'JSON.stringify'),
    row(
      'SDK: new CloudEvent + Kafka.binary (what encode called before)',
      sdkEncode,
      stringify,
      'JSON.stringify',
    ),
    row('encodeEvent of a sync status', encode, stringify, 'JSON.stringify'),
    row(
      'contract validation of a sync status (the relay, per row)',
      validate,
      stringify,
      'JSON.stringify',
    ),
    row(
      'JSON.stringify of a dossier payload',
      payloadStringify,
      payloadStringify,
      'JSON.stringify',
    ),
    row(
      'fingerprint of a dossier payload, first canonical form (replacer, localeCompare per object)',
      fingerprintBefore,
      payloadStringify,
      'JSON.stringify',
    ),
    row(
      'fingerprint of a dossier payload (canonical JSON, key orders cached)',
      fingerprintNow,
      payloadStringify,
      'JSON.stringify',
    ),
    row(
      'kafkajs: a status record with its headers, buffers zero-filled (kafkajs 2.2.4 as shipped)',
      recordStock,
      encode,
      'encodeEvent',
    ),
    row(
      'kafkajs: the same record, buffers from the pool (patches/kafkajs+2.2.4.patch)',
      recordPatched,
      encode,
      'encodeEvent',
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return Promise.resolve();
}

runMain(main);
