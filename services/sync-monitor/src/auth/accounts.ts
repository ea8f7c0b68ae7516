import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/**
 * What an operator may do. `operator` acts (re-sync, reconcile, replay, pause); `viewer` only
 * sees. `provinces` is where: the 2-digit codes of the provinces they answer for, or `*` for the
 * whole country (a national role).
 */
export interface Role {
  kind: 'operator' | 'viewer';
  provinces: '*' | string[];
}

export interface Account {
  username: string;
  /** scrypt$N$r$p$salt$hash (base64): written by `npm run monitor:hash-password`. */
  passwordHash: string;
  role: Role;
}

/** A signed-in operator: who, and what they may do. */
export interface Principal {
  username: string;
  role: Role;
}

const HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/**
 * A password hash in the accounts file's format, with node's own scrypt (memory-hard, in every
 * Node build: no native add-on to install for a handful of local accounts).
 */
export async function hashPassword(password: string, N = 16384, r = 8, p = 1): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH.exec(stored);
  if (!m) return false;
  const [, N, r, p, salt, hash] = m as unknown as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const got = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(N),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return timingSafeEqual(got, expected);
}

/** The accounts file, checked: a bad entry stops the start, naming the entry and the rule. */
export function parseAccounts(json: string, source: string): Account[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const list = (raw as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) throw new Error(`${source}: accounts must be an array`);
  const seen = new Set<string>();
  return list.map((a: unknown, i) => {
    const at = `${source}: accounts[${i}]`;
    const e = a as Partial<Account> & { role?: Partial<Role> };
    if (typeof e.username !== 'string' || !/^[a-z0-9._-]{2,64}$/.test(e.username))
      throw new Error(`${at}.username: 2-64 of a-z 0-9 . _ -`);
    if (seen.has(e.username)) throw new Error(`${at}.username: ${e.username} appears twice`);
    seen.add(e.username);
    if (typeof e.passwordHash !== 'string' || !HASH.test(e.passwordHash))
      throw new Error(`${at}.passwordHash: scrypt$N$r$p$salt$hash (npm run monitor:hash-password)`);
    const kind = e.role?.kind;
    if (kind !== 'operator' && kind !== 'viewer')
      throw new Error(`${at}.role.kind: operator or viewer`);
    const provinces = e.role?.provinces;
    if (
      provinces !== '*' &&
      !(
        Array.isArray(provinces) &&
        provinces.length > 0 &&
        provinces.every((p) => typeof p === 'string' && /^[0-9]{2}$/.test(p))
      )
    )
      throw new Error(`${at}.role.provinces: "*" or a non-empty list of 2-digit province codes`);
    return { username: e.username, passwordHash: e.passwordHash, role: { kind, provinces } };
  });
}

export function loadAccounts(file: string): Account[] {
  return parseAccounts(readFileSync(file, 'utf8'), file);
}

/** May this role see (or act on) this province? */
export function covers(role: Role, provinceCode: string): boolean {
  return role.provinces === '*' || role.provinces.includes(provinceCode);
}

/** The provinces a role sees, for a query's filter (undefined: all). */
export function provinceFilter(role: Role): string[] | undefined {
  return role.provinces === '*' ? undefined : role.provinces;
}
