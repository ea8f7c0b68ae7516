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
// - the outbox relay's work per status (validate, encode on v2 and v1) with its v1 form validated
//   a second time and its v1 event's attributes checked again by the SDK (before), and as the
//   relay does it now (status-v1.ts; encodeSibling);
// - ingest's fingerprint of a payload (canonical JSON + SHA-256) with the first canonical form
//   (JSON.stringify with a replacer rebuilding every object sorted), which it replaced;
// - kafkajs partitioning a status record by its key (murmur2) and encoding a produce request of
//   BENCH_CODEC_BATCH status records over 12 partitions (what the outbox relay sends), as kafkajs
//   2.2.4 ships it (the unpatched copy installed as `kafkajs-stock`, with its DefaultPartitioner)
//   and as this repository runs it (patches/kafkajs+2.2.4.patch, libs/messaging's
//   KeyHashPartitioner).
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
  encodeSibling,
  readEvent,
} from '@lienthong/contracts';
import type { EncodedRecord, SyncStatusV2 } from '@lienthong/contracts';
import { asV1, fingerprint } from '@lienthong/sync-engine';
import { KeyHashPartitioner } from '@lienthong/messaging';
import { Rng, dossierLifecycle, lifecycleRecords } from '@lienthong/testing';
import { Partitioners } from 'kafkajs';
import type { ICustomPartitioner, Message, PartitionMetadata } from 'kafkajs';
import { fmt, knob, machine, median, runMain } from './bench-kit';

/** The kafkajs internals a producer and a consumer run per record (no type declarations). */
interface KafkaInternals {
  group: (args: {
    topic: string;
    partitionMetadata: PartitionMetadata[];
    messages: Message[];
    partitioner: ReturnType<ICustomPartitioner>;
  }) => Record<string, Message[]>;
  request: (args: {
    acks: number;
    timeout: number;
    compression: number;
    producerId: number;
    producerEpoch: number;
    topicData: Array<{
      topic: string;
      partitions: Array<{ partition: number; firstSequence: number; messages: Message[] }>;
    }>;
  }) => { encode(): Promise<{ buffer: Buffer }> };
  Decoder: new (buffer: Buffer) => unknown;
  decode: (decoder: unknown) => Promise<{ records: unknown[] }>;
}
/** Those internals of the unpatched package (`kafkajs-stock`) or of the patched one, with a partitioner. */
const kafkajsInternals = (
  pkg: 'kafkajs' | 'kafkajs-stock',
  partitioner: ICustomPartitioner,
): KafkaInternals & { partitioner: ICustomPartitioner } => ({
  partitioner,
  /* eslint-disable @typescript-eslint/no-require-imports */
  group: require(`${pkg}/src/producer/groupMessagesPerPartition`) as KafkaInternals['group'],
  request: require(`${pkg}/src/protocol/requests/produce/v3/request`) as KafkaInternals['request'],
  Decoder: require(`${pkg}/src/protocol/decoder`) as KafkaInternals['Decoder'],
  decode: require(`${pkg}/src/protocol/recordBatch/v0/decoder`) as KafkaInternals['decode'],
  /* eslint-enable @typescript-eslint/no-require-imports */
});

/** Twelve partitions, each with a leader, as a producer's metadata lists them. */
const PARTITION_METADATA: PartitionMetadata[] = Array.from({ length: 12 }, (_, partitionId) => ({
  partitionErrorCode: 0,
  partitionId,
  leader: 1,
  replicas: [1],
  isr: [1],
}));

const OPS = knob('BENCH_CODEC_OPS', 20_000);
const ROUNDS = knob('BENCH_CODEC_ROUNDS', 5);
const BATCH = knob('BENCH_CODEC_BATCH', 500);

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

/**
 * µs per record of `unit` (async work on `records` records at a time, repeated to about OPS
 * records a round), median of the rounds, after a warm-up round.
 */
async function perRecord(records: number, unit: () => Promise<unknown>): Promise<number> {
  const units = Math.max(1, Math.round(OPS / records));
  const round = async () => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < units; i += 1) await unit();
    return Number(process.hrtime.bigint() - started) / 1000 / (units * records);
  };
  await round();
  const rounds: number[] = [];
  for (let i = 0; i < ROUNDS; i += 1) rounds.push(await round());
  return median(rounds);
}

/** µs per record of encoding a produce request of `messages` over PARTITION_METADATA. */
function perRecordOfRequest(
  kafka: ReturnType<typeof kafkajsInternals>,
  messages: Message[],
): Promise<number> {
  const partitioner = kafka.partitioner();
  return perRecord(messages.length, async () => {
    const byPartition = kafka.group({
      topic: 't',
      partitionMetadata: PARTITION_METADATA,
      messages,
      partitioner,
    });
    const partitions = Object.entries(byPartition).map(([p, group]) => ({
      partition: Number(p),
      firstSequence: 0,
      messages: group,
    }));
    const request = kafka.request({
      acks: -1,
      timeout: 30_000,
      compression: 0,
      producerId: 1,
      producerEpoch: 0,
      topicData: [{ topic: 't', partitions }],
    });
    return (await request.encode()).buffer.length;
  });
}

/** µs per record of decoding a fetched record batch of `count` records. */
function perRecordOfBatch(kafka: KafkaInternals, bytes: Buffer, count: number): Promise<number> {
  return perRecord(count, async () => {
    const { records } = await kafka.decode(new kafka.Decoder(bytes));
    if (records.length !== count) throw new Error(`decoded ${records.length} of ${count} records`);
  });
}

async function main(): Promise<void> {
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
  // The outbox relay's work per status: validate, encode on v2, and on v1 when v1 can say it —
  // with the v1 form validated a second time (before) or not (now: status-v1.ts says why).
  const relayStatus = (before: boolean) =>
    perCall(statuses, (s, i) => {
      if (!validator.validate(EVENT_TYPES.SyncStatusV2, s).ok) throw new Error('invalid status');
      const v2 = encodeEvent(EVENT_TYPES.SyncStatusV2, s, options(s, i));
      const v1 = asV1(s);
      if (!v1) throw new Error('a status without its v1 form');
      if (!before)
        return [
          v2,
          encodeSibling(v2, EVENT_TYPES.SyncStatus, `v1-${i}`, v1 === s ? undefined : v1),
        ];
      if (!validator.validate(EVENT_TYPES.SyncStatus, v1).ok) throw new Error('invalid v1 form');
      return [v2, encodeEvent(EVENT_TYPES.SyncStatus, v1, { ...options(s, i), id: `v1-${i}` })];
    });
  const relayBefore = relayStatus(true);
  const relayNow = relayStatus(false);

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

  const stock = kafkajsInternals('kafkajs-stock', Partitioners.DefaultPartitioner);
  const ours = kafkajsInternals('kafkajs', KeyHashPartitioner);
  const keyed = statuses.map((s) => ({ key: `${s.entity.domain}:${s.entity.key}`, value: '' }));
  const partitionWith = (partitioner: ICustomPartitioner) => {
    const partition = partitioner();
    return (message: Message) =>
      partition({ topic: 't', partitionMetadata: PARTITION_METADATA, message });
  };
  const partitionStock = perCall(keyed, partitionWith(stock.partitioner));
  const partitionOurs = perCall(keyed, partitionWith(ours.partitioner));
  const messages: Message[] = Array.from({ length: BATCH }, (_, i) => {
    const status = statuses[i % statuses.length] as SyncStatusV2;
    const e = encodeEvent(
      EVENT_TYPES.SyncStatusV2,
      { ...status, sequence: i + 1 },
      options(status, i),
    );
    return { key: e.key, value: e.value, headers: e.headers };
  });
  const [stockGroups, ourGroups] = [stock, ours].map((kafka) => {
    const p = kafka.partitioner();
    const byPartition = kafka.group({
      topic: 't',
      partitionMetadata: PARTITION_METADATA,
      messages,
      partitioner: p,
    });
    return Object.fromEntries(
      Object.entries(byPartition).map(([k, group]) => [k, group.map((m) => m.key).join()]),
    );
  });
  if (JSON.stringify(stockGroups) !== JSON.stringify(ourGroups))
    throw new Error('the two partitioners put some key on different partitions');
  const requestStock = await perRecordOfRequest(stock, messages);
  const requestOurs = await perRecordOfRequest(ours, messages);
  // A record batch as the broker returns it in a fetch (encoded by the stock package), decoded.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { RecordBatch } = require('kafkajs-stock/src/protocol/recordBatch/v0') as {
    RecordBatch: (args: { records: unknown[] }) => Promise<{ buffer: Buffer }>;
  };
  const stockRecord = require('kafkajs-stock/src/protocol/recordBatch/record/v0') as (
    r: Message & { offsetDelta: number },
  ) => unknown;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const fetched = (
    await RecordBatch({ records: messages.map((m, i) => stockRecord({ ...m, offsetDelta: i })) })
  ).buffer;
  const decodeStock = await perRecordOfBatch(stock, fetched, BATCH);
  const decodeOurs = await perRecordOfBatch(ours, fetched, BATCH);

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
      'the outbox relay per status, its v1 form validated and its attributes checked again (before)',
      relayBefore,
      encode,
      'encodeEvent',
    ),
    row(
      'the outbox relay per status now (validated and checked once, as v2; encoded on v2 and v1)',
      relayNow,
      encode,
      'encodeEvent',
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
      "kafkajs 2.2.4 as shipped: partition a status record by its key (DefaultPartitioner's murmur2)",
      partitionStock,
      encode,
      'encodeEvent',
    ),
    row(
      'the same key, KeyHashPartitioner (libs/messaging: murmur2 in 32-bit arithmetic, same partitions)',
      partitionOurs,
      encode,
      'encodeEvent',
    ),
    row(
      `kafkajs 2.2.4 as shipped: a produce request of ${BATCH} status records over 12 partitions, per record (partition, group, encode)`,
      requestStock,
      encode,
      'encodeEvent',
    ),
    row(
      'the same request, as patched (patches/kafkajs+2.2.4.patch) with KeyHashPartitioner',
      requestOurs,
      encode,
      'encodeEvent',
    ),
    row(
      `kafkajs 2.2.4 as shipped: decode a fetched batch of ${BATCH} status records, per record`,
      decodeStock,
      decode,
      'decodeEvent',
    ),
    row(
      'the same batch, as patched (patches/kafkajs+2.2.4.patch)',
      decodeOurs,
      decode,
      'decodeEvent',
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

runMain(main);
