import { createHash } from 'node:crypto';
import { canonicalJson, fingerprint } from './fingerprint';

/**
 * The first canonical form, which every fingerprint stored in a ledger (processed_event,
 * desired/synced fingerprints) was computed with: the hand-written one must give the same bytes.
 */
function reference(value: unknown): string | undefined {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** mulberry32: a small seeded generator, so a failure names the seed that reproduces it. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  'MaHoSo',
  'maHoSo',
  'a',
  'B',
  'b',
  '_x',
  'Đất',
  'dat',
  'ẩn',
  '0',
  '2',
  '10',
  '-1',
  '01',
  '4294967295',
  'z z',
  '"q"',
  '__proto__',
  '',
  'a\u0000b',
  'b\u0000',
];

function value(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.floor(next() * 1e6) / (next() < 0.5 ? 1 : 7);
    case 3:
      return 'chuỗi "có" \\ dấu\n' + Math.floor(next() * 100);
    case 4:
      return undefined;
    case 5:
      return new Date(Date.UTC(2025, 6, 1, Math.floor(next() * 24)));
    case 6:
      return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 6); i > 0; i -= 1) {
        const key = KEYS[Math.floor(next() * KEYS.length)] as string;
        Object.defineProperty(o, key, {
          value: value(next, depth + 1),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
      return o;
    }
  }
}

describe('canonical JSON and fingerprints', () => {
  it('gives the bytes of the first canonical form for 20,000 random values (key case, diacritics, index keys, toJSON, undefined)', () => {
    for (let seed = 1; seed <= 20_000; seed += 1) {
      const v = value(random(seed), 0);
      const expected = reference(v);
      if (canonicalJson(v) !== expected)
        throw new Error(`seed ${seed}: ${String(canonicalJson(v))} ≠ ${String(expected)}`);
    }
  });

  it('is the same whatever order the keys came in, and differs when a value does', () => {
    const a = JSON.parse(
      '{"b":1,"A":{"y":[1,{"d":2,"c":3}],"x":null},"10":true,"2":"hai"}',
    ) as unknown;
    const b = JSON.parse(
      '{"2":"hai","A":{"x":null,"y":[1,{"c":3,"d":2}]},"10":true,"b":1}',
    ) as unknown;
    expect(canonicalJson(a)).toBe(
      '{"2":"hai","10":true,"A":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}',
    );
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(a)).toBe(
      createHash('sha256')
        .update(reference(b) as string)
        .digest('hex'),
    );
    expect(fingerprint({ ...(a as object), b: 2 })).not.toBe(fingerprint(a));
  });
});
