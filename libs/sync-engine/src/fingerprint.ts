import { createHash } from 'node:crypto';

/**
 * The order a canonical object lists its keys in, by the order they came in (cached: payloads of
 * one kind share a handful of shapes). It is the order the first canonical form produced, which
 * every stored fingerprint was computed with, so it must not change: keys sorted by
 * `localeCompare`, except that array-index keys ("0", "12") come first in numeric order, as in
 * any JavaScript object built from the sorted entries.
 */
const keyOrders = new Map<string, string[]>();
const KEY_ORDERS_KEPT = 10_000;

function keyOrder(keys: string[]): string[] {
  // JSON of the key list: unambiguous, whatever characters the keys hold ('' and NUL included).
  const shape = JSON.stringify(keys);
  const known = keyOrders.get(shape);
  if (known) return known;
  const sorted = [...keys].sort((a, b) => a.localeCompare(b));
  const order = Object.keys(Object.fromEntries(sorted.map((k) => [k, true])));
  if (keyOrders.size >= KEY_ORDERS_KEPT) keyOrders.clear();
  keyOrders.set(shape, order);
  return order;
}

/** A copy of a JSON value whose objects list their keys in canonical order (see keyOrder). */
function ordered(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return ordered((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) return value.map(ordered);
  const source = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of keyOrder(Object.keys(source))) {
    // `copy.__proto__ = …` would set the prototype, not a key.
    if (key === '__proto__')
      Object.defineProperty(copy, key, {
        value: ordered(source[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else copy[key] = ordered(source[key]);
  }
  return copy;
}

/**
 * JSON with every object's keys in a fixed order, so that equal values serialise equally however
 * their keys were ordered (PostgreSQL's jsonb reorders them). The first version passed
 * `JSON.stringify` a replacer that sorted every object's entries with `localeCompare`; this is on
 * ingest's path for every event, so the order is now computed once per shape of object and the
 * copy serialised by `JSON.stringify` alone: the same bytes (fingerprint.spec.ts checks it
 * against the first version), in about half the time (`npm run bench:codec`).
 */
export function canonicalJson(value: unknown): string | undefined {
  return JSON.stringify(ordered(value));
}

/** SHA-256 (hex) of the canonical JSON of a value: equal for equal values, whatever their key order. */
export function fingerprint(value: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(value) ?? 'undefined')
    .digest('hex');
}
