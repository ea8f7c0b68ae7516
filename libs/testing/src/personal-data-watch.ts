import { PERSONAL_DATA_FIELDS } from '@lienthong/contracts';

const PERSONAL_KEYS = new Set(Object.keys(PERSONAL_DATA_FIELDS));
/** Shorter values ("Nam", a two-digit code) would be found by chance in any text. */
const MIN_LENGTH = 6;

/**
 * The personal values planted in a test's traffic (and the secrets planted by hand), and where
 * any of them shows up in clear.
 * Values are taken from the payloads under the fields the contracts declare personal
 * (x-personal-data), so every new domain's fields are watched the day its schema declares them.
 * A leak is reported by field and place, with the value masked (the report is a log too).
 */
export class PersonalDataWatch {
  private readonly values = new Map<string, string>();
  /** Values by their first MIN_LENGTH characters (built on first use after a plant). */
  private byPrefix: Map<string, Array<[string, string]>> | undefined;

  /** Plants the personal values of one event payload (JSON text or object). */
  plant(payload: unknown): void {
    let data = payload;
    if (typeof payload === 'string') {
      try {
        data = JSON.parse(payload);
      } catch {
        return;
      }
    }
    this.walk(data, undefined);
  }

  /** Plants a secret (a password, an access token): it must not show up in clear either. */
  plantSecret(value: string, name: string): void {
    if (value.length < MIN_LENGTH)
      throw new Error(`a secret of ${value.length} characters cannot be watched`);
    this.values.set(value, name);
    this.byPrefix = undefined;
  }

  get size(): number {
    return this.values.size;
  }

  private walk(node: unknown, key: string | undefined): void {
    if (typeof node === 'string') {
      const value = node.trim();
      if (key && PERSONAL_KEYS.has(key) && value.length >= MIN_LENGTH) {
        this.values.set(value, key);
        this.byPrefix = undefined;
      }
      return;
    }
    if (Array.isArray(node)) {
      for (const v of node) this.walk(v, key);
      return;
    }
    if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node as Record<string, unknown>))
        this.walk(v, PERSONAL_KEYS.has(k) ? k : key && PERSONAL_KEYS.has(key) ? key : k);
  }

  /**
   * Where a planted value appears in `text`: one line per value found, value masked. One pass
   * over the text, looking each position's first characters up among the values' prefixes — a
   * world of 10,000 entities plants tens of thousands of values, and asking `includes` for each
   * of them in each of its tens of thousands of messages would take minutes.
   */
  leaks(place: string, text: string): string[] {
    const index = (this.byPrefix ??= this.indexByPrefix());
    const found = new Map<string, string>();
    for (let i = 0; i + MIN_LENGTH <= text.length; i += 1) {
      const candidates = index.get(text.slice(i, i + MIN_LENGTH));
      if (!candidates) continue;
      for (const [value, key] of candidates) if (text.startsWith(value, i)) found.set(value, key);
    }
    return [...found].map(
      ([value, key]) => `${place}: ${key} in clear (…${value.slice(-2)}, ${value.length} chars)`,
    );
  }

  private indexByPrefix(): Map<string, Array<[string, string]>> {
    const index = new Map<string, Array<[string, string]>>();
    for (const [value, key] of this.values) {
      const prefix = value.slice(0, MIN_LENGTH);
      index.set(prefix, [...(index.get(prefix) ?? []), [value, key]]);
    }
    return index;
  }
}
