import { createHash } from 'node:crypto';

/** JSON with object keys sorted: equal records compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : v,
  );
}

/**
 * A stable number in [0, 1) per record and purpose: which records a simulated portal treats
 * differently (asks a supplement of, never answers, drops a callback of) stays the same run after run.
 */
export function share(id: string, salt: string): number {
  return createHash('sha256').update(`${salt}:${id}`).digest().readUInt32BE(0) / 2 ** 32;
}
