import { isDeepStrictEqual } from 'node:util';
import type { Partitioners as KafkajsPartitioners } from 'kafkajs';

/*
 * patches/kafkajs+2.2.4.patch changes how kafkajs encodes and decodes records (for speed: see
 * test/bench/RESULTS.md). It must not change a single byte or a decoded field: this compares the
 * patched package with the unpatched one (`kafkajs-stock`, the same version installed under an alias).
 */

/* eslint-disable @typescript-eslint/no-require-imports */
type Pkg = 'kafkajs' | 'kafkajs-stock';
interface Encoder {
  buffer: Buffer;
  writeVarInt(v: number): Encoder;
  writeVarLong(v: number): Encoder;
  writeUVarInt(v: number): Encoder;
}
const encoder = (pkg: Pkg) =>
  require(`${pkg}/src/protocol/encoder`) as (new () => Encoder) & {
    sizeOfVarLong(v: number): number;
  };
const record = (pkg: Pkg) =>
  require(`${pkg}/src/protocol/recordBatch/record/v0`) as (r: RecordInput) => Encoder;
const batchDecoder = (pkg: Pkg) => ({
  Decoder: require(`${pkg}/src/protocol/decoder`) as new (buffer: Buffer) => unknown,
  decode: require(`${pkg}/src/protocol/recordBatch/v0/decoder`) as (
    d: unknown,
  ) => Promise<{ records: Array<{ headers: object }> }>,
});
const group = (pkg: Pkg) =>
  require(`${pkg}/src/producer/groupMessagesPerPartition`) as (args: unknown) => unknown;
const StockLong = require('kafkajs-stock/src/utils/long') as { fromString(s: string): unknown };
const { RecordBatch } = require('kafkajs-stock/src/protocol/recordBatch/v0') as {
  RecordBatch: (args: object) => Promise<Encoder>;
};
const { Partitioners } = require('kafkajs-stock') as { Partitioners: typeof KafkajsPartitioners };
/* eslint-enable @typescript-eslint/no-require-imports */

interface RecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | string | null;
  value: Buffer | null;
  headers: Record<string, string | Buffer | string[]>;
}

/** Headers as a CloudEvent carries them, with repeats, arrays, Buffers and an own `__proto__` key. */
function headersFor(i: number): RecordInput['headers'] {
  const headers: RecordInput['headers'] = {};
  for (let h = 0; h < i % 13; h += 1)
    headers[`ce_h${h % 5}`] = h % 4 === 0 ? Buffer.from(`v${h}`) : `giá trị ${'ằ'.repeat(h)} ${i}`;
  if (i % 10 === 1) headers.multi = ['a', 'bé', 'c'];
  if (i % 9 === 0)
    Object.defineProperty(headers, '__proto__', {
      value: 'p',
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return headers;
}

const deltas = [0, 5, -5, 2 ** 27 - 1, -(2 ** 27), 2 ** 27, 2 ** 31, -(2 ** 35), 2 ** 45];

function records(count: number, salt: number): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    offsetDelta: i,
    timestampDelta: deltas[(i + salt) % deltas.length] as number,
    key: i % 6 === 0 ? null : i % 2 ? Buffer.from(`k${i}`) : `khóa-${i}`,
    value: i % 7 === 0 ? null : Buffer.from('v'.repeat((i * 37) % 900)),
    headers: headersFor(i + salt),
  }));
}

describe('patches/kafkajs+2.2.4.patch changes no byte and no decoded field', () => {
  it('varints and varlongs: the same bytes and sizes as the stock encoder', () => {
    const [Stock, Patched] = [encoder('kafkajs-stock'), encoder('kafkajs')];
    const values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 2 ** 28, 2 ** 31 - 1, -(2 ** 31)];
    values.push(2 ** 31, 2 ** 32, -(2 ** 33), 1e12, -1e12, Date.now(), 2 ** 53 - 1);
    for (let i = 0; i < 2000; i += 1)
      values.push(Math.floor((((i * 7919) % 1000) / 1000 - 0.5) * 2 ** (1 + (i % 52))));
    const differ: string[] = [];
    for (const v of values) {
      const same = (f: 'writeVarInt' | 'writeVarLong' | 'writeUVarInt') =>
        new Stock()[f](v).buffer.equals(new Patched()[f](v).buffer) || differ.push(`${f}(${v})`);
      same('writeVarLong');
      if ((v | 0) === v) same('writeVarInt');
      if (v >>> 0 === v) same('writeUVarInt');
      if (Stock.sizeOfVarLong(v) !== Patched.sizeOfVarLong(v)) differ.push(`sizeOfVarLong(${v})`);
    }
    expect(differ).toEqual([]);
  });

  it('records: the same bytes as the stock encoder', () => {
    const [stock, patched] = [record('kafkajs-stock'), record('kafkajs')];
    const inputs = records(3000, 0);
    const differ = inputs.filter((r) => !stock(r).buffer.equals(patched(r).buffer));
    expect(differ).toEqual([]);
  });

  it('fetched record batches: the same records as the stock decoder', async () => {
    const stock = batchDecoder('kafkajs-stock');
    const patched = batchDecoder('kafkajs');
    const encodeRecord = record('kafkajs-stock');
    const firstOffsets = ['0', '123456', '9007199254740000', '9223372036854775000'];
    const firstTimestamps: unknown[] = [Date.now(), 0, -1, 2 ** 40];
    firstTimestamps.push(StockLong.fromString('9007199254740990'));
    const differ: number[] = [];
    for (let b = 0; b < 200; b += 1) {
      const firstTimestamp = firstTimestamps[b % firstTimestamps.length];
      const inputs = records(1 + (b % 40), b);
      const bytes = (
        await RecordBatch({
          records: inputs.map(encodeRecord),
          firstOffset: StockLong.fromString(firstOffsets[b % firstOffsets.length] as string),
          firstTimestamp,
          maxTimestamp: firstTimestamp,
          lastOffsetDelta: inputs.length - 1,
        })
      ).buffer;
      const [a, c] = await Promise.all([
        stock.decode(new stock.Decoder(bytes)),
        patched.decode(new patched.Decoder(bytes)),
      ]);
      if (!isDeepStrictEqual(a, c)) differ.push(b);
      // A header named __proto__ stays a header, not the object's prototype.
      for (const r of c.records)
        if (Object.getPrototypeOf(r.headers) !== Object.prototype) differ.push(b);
    }
    expect(differ).toEqual([]);
  });

  it('messages grouped per partition: the same groups in the same order', () => {
    const partitionMetadata = Array.from({ length: 12 }, (_, partitionId) => ({
      partitionId,
      leader: 1,
    }));
    const messages = Array.from({ length: 3000 }, (_, i) => ({
      key: `k${i % 977}`,
      value: `${i}`,
    }));
    const grouped = (pkg: Pkg) =>
      group(pkg)({
        topic: 't',
        partitionMetadata,
        messages,
        partitioner: Partitioners.DefaultPartitioner(),
      });
    expect(grouped('kafkajs')).toEqual(grouped('kafkajs-stock'));
  });
});
