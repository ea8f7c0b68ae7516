import type {
  BirthRegistered,
  DeathRegistered,
  EncodedRecord,
  EventType,
  LandRegistrationReceived,
  MarriageRegistered,
  RegistrationAmended,
} from '@lienthong/contracts';
import { EVENT_TYPES, TOPICS } from '@lienthong/contracts';
import { toRecord as toRegistryRecord, toTiepNhan } from '@lienthong/portal-clients';
import { fingerprint } from '@lienthong/sync-engine';
import {
  BrokerControl,
  birthRegistered,
  deathRegistered,
  expectEventually,
  portalAdmin,
  invalidCorpus,
  marriageRegistered,
  registrationAmended,
  landRegistrationReceived,
  toRecord,
  vnTime,
} from '@lienthong/testing';
import type {
  Rng,
  ServiceProcess,
  SyncServiceUnderTest,
  SyncWorld,
  TestContext,
} from '@lienthong/testing';

/**
 * A registry scenario's ceiling. Its fixed parts (a 30 s outage, two crashes at progress
 * thresholds, a broker restart) and its waits (up to 300 s for the ledger) outgrow the tier's
 * 180 s default, which is only there to bound a hang: a land run took 160–170 s on a quiet
 * machine and past 180 s on a busy CI one. Each phase is printed (`world.phase`).
 */
export const REGISTRY_E2E_TIMEOUT_MS = 420_000;

/** Crashed instances leave the consumer groups in 10 s, not 30: their replacements start sooner. */
const FAST_FAILOVER = { KAFKA_SESSION_TIMEOUT_MS: '10000' };

export const CALLBACK_SECRET = 'e2e-land-callback-secret-0001';

/** civil-status-sync as the worlds run it: results polled every half second, at most every two. */
export const CIVIL_STATUS_SYNC: SyncServiceUnderTest = {
  name: 'civil-status-sync',
  entry: 'services/civil-status-sync/dist/main.js',
  contractTopic: TOPICS.communeCivilStatusEvents,
  portalEnv: (url) => ({
    ...FAST_FAILOVER,
    CIVIL_BASE_URL: url,
    CIVIL_TIMEOUT_MS: '2000',
    CIVIL_BREAKER_RESET_TIMEOUT_MS: '2000',
    POLL_INITIAL_MS: '500',
    POLL_MAX_MS: '2000',
  }),
};

/** land-sync as the worlds run it: callbacks first, lookups after 3 s of silence. */
export const LAND_SYNC: SyncServiceUnderTest = {
  name: 'land-sync',
  entry: 'services/land-sync/dist/main.js',
  contractTopic: TOPICS.communeLandEvents,
  portalEnv: (url) => ({
    ...FAST_FAILOVER,
    LAND_BASE_URL: url,
    LAND_TIMEOUT_MS: '2000',
    LAND_BREAKER_RESET_TIMEOUT_MS: '2000',
    LAND_CALLBACK_SECRET: CALLBACK_SECRET,
    POLL_INITIAL_MS: '3000',
    POLL_MAX_MS: '6000',
  }),
};

type Registration = BirthRegistered | DeathRegistered | MarriageRegistered;

/** One entity a test sends: its events in source order; `latest` is what the portal must end with. */
export interface Entity<T> {
  key: string;
  communeCode: string;
  type: EventType;
  latest: T;
  sequence: number;
  records: EncodedRecord[];
}

export interface CivilEntity extends Entity<Registration> {
  amendments: RegistrationAmended[];
}

function record(
  type: EventType,
  data: object,
  communeCode: string,
  sequence: number,
): EncodedRecord {
  return toRecord({ name: '', type, topic: '', data, communeCode, sequence });
}

/**
 * `n` civil-status registrations (60% births, 25% deaths, 15% marriages), unique keys; one birth
 * in 100 reuses an earlier birth's hospital certificate (the registry refuses one of the two);
 * one in 20 births is amended.
 */
export function civilEntities(rng: Rng, n: number): CivilEntity[] {
  const out: CivilEntity[] = [];
  const keys = new Set<string>();
  const births: BirthRegistered[] = [];
  while (out.length < n) {
    const roll = rng.next();
    const [type, registration]: [EventType, Registration] =
      roll < 0.6
        ? [EVENT_TYPES.BirthRegistered, birthRegistered(rng)]
        : roll < 0.85
          ? [EVENT_TYPES.DeathRegistered, deathRegistered(rng)]
          : [EVENT_TYPES.MarriageRegistered, marriageRegistered(rng)];
    if (keys.has(registration.maDinhDanhHoSo)) continue;
    keys.add(registration.maDinhDanhHoSo);
    let latest = registration;
    if (type === EVENT_TYPES.BirthRegistered) {
      const birth = registration as BirthRegistered;
      const earlier = births.length > 0 && rng.chance(0.01) ? rng.pick(births) : undefined;
      if (earlier) latest = { ...birth, maGCS: earlier.maGCS };
      else births.push(birth);
    }
    const records = [record(type, latest, latest.maXa, 1)];
    const amendments: RegistrationAmended[] = [];
    if (type === EVENT_TYPES.BirthRegistered && rng.chance(0.05)) {
      const a = registrationAmended(rng, {
        maDinhDanhHoSo: latest.maDinhDanhHoSo,
        maTinh: latest.maTinh,
        maXa: latest.maXa,
        loaiDangKy: 'KS',
      });
      amendments.push(a);
      records.push(record(EVENT_TYPES.RegistrationAmended, a, latest.maXa, 2));
    }
    out.push({
      key: latest.maDinhDanhHoSo,
      communeCode: latest.maXa,
      type,
      latest,
      sequence: records.length,
      records,
      amendments,
    });
  }
  return out;
}

/** `n` land dossiers with unique MaHoSoMotCua and SoBienNhan. */
export function landEntities(rng: Rng, n: number): Array<Entity<LandRegistrationReceived>> {
  const out: Array<Entity<LandRegistrationReceived>> = [];
  const keys = new Set<string>();
  while (out.length < n) {
    const d = landRegistrationReceived(rng);
    if (keys.has(d.MaHoSoMotCua) || keys.has(d.SoBienNhan)) continue;
    keys.add(d.MaHoSoMotCua).add(d.SoBienNhan);
    out.push({
      key: d.MaHoSoMotCua,
      communeCode: d.XaId,
      type: EVENT_TYPES.LandRegistrationReceived,
      latest: d,
      sequence: 1,
      records: [record(EVENT_TYPES.LandRegistrationReceived, d, d.XaId, 1)],
    });
  }
  return out;
}

/** Every record twice, shuffled, with the topic's invalid corpus mixed in. */
export function twiceShuffled(rng: Rng, records: EncodedRecord[], topic: string): EncodedRecord[] {
  const all = [...records, ...records];
  for (let i = all.length - 1; i > 0; i -= 1) {
    const j = rng.int(0, i);
    [all[i], all[j]] = [all[j] as EncodedRecord, all[i] as EncodedRecord];
  }
  invalidCorpus()
    .filter((c) => c.topic === topic)
    .forEach((c, i) =>
      all.splice((i * 997) % all.length, 0, {
        key: c.record.key as string,
        value: c.record.value as Buffer,
        headers: c.record.headers as Record<string, string>,
      }),
    );
  return all;
}

/**
 * The commune's side of a supplement request: whenever a SUPPLEMENT_REQUESTED status names one of
 * its entities, it sends the entity again, corrected (a new sequence). Stops with the test.
 */
export function answerSupplements<T extends object>(
  ctx: TestContext,
  world: SyncWorld,
  entities: Map<string, Entity<T>>,
  correct: (latest: T) => T,
): { answered: Set<string> } {
  const answered = new Set<string>();
  // Answers not yet accepted by the broker: sent again on the next round, as a commune system
  // would (the broker restarts in these scenarios; a lost answer would leave its entity waiting).
  let unsent: EncodedRecord[] = [];
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const records = unsent;
    for (const s of world.syncStatusesV2()) {
      if (s.state !== 'SUPPLEMENT_REQUESTED' || answered.has(s.entity.key)) continue;
      const e = entities.get(s.entity.key);
      if (!e) continue;
      answered.add(e.key);
      e.latest = correct(e.latest);
      e.sequence += 1;
      records.push(record(e.type, e.latest, e.communeCode, e.sequence));
    }
    if (records.length === 0) return;
    busy = true;
    unsent = [];
    world
      .produce(records)
      .catch(() => {
        unsent = [...records, ...unsent];
      })
      .finally(() => {
        busy = false;
      });
  }, 200);
  ctx.onCleanup(() => clearInterval(timer));
  return { answered };
}

/** One minute later: a correction that stays valid for every registration and dossier. */
export function laterBy(iso: string, ms: number): string {
  return vnTime(Date.parse(iso) + ms);
}

/** The record the registry must hold for a registration: its latest state, amendments applied. */
export function expectedCivilRecord(e: CivilEntity): string {
  const held = toRegistryRecord(e.latest as unknown as Record<string, unknown>);
  for (const a of e.amendments) for (const c of a.noiDungThayDoi) held[c.truong] = c.giaTriMoi;
  return fingerprint(held);
}

/** What the land registry must hold for a dossier: its latest state as sent, without the SecurityCode. */
export function expectedLandRecord(d: LandRegistrationReceived): string {
  const { SecurityCode: _code, ...held } = toTiepNhan(d, '');
  return fingerprint(held);
}

/** Kendall-style count of pairs answered in another order than they were submitted. */
export function inversions(order: string[], reference: string[]): number {
  const rank = new Map(reference.map((k, i) => [k, i]));
  const ranks = order.map((k) => rank.get(k) ?? 0);
  let n = 0;
  for (let i = 0; i < ranks.length; i += 1)
    for (let j = i + 1; j < ranks.length; j += 1) if ((ranks[i] ?? 0) > (ranks[j] ?? 0)) n += 1;
  return n;
}

/**
 * The faults every registry suite goes through, under the load of `records` (produced first):
 * once `progressed()` passes 200, the portal API is down for 30 s (pushes are seen RETRYING
 * meanwhile); then each instance is killed (SIGKILL) once `progressed()` passes its threshold, and
 * restarted; then the broker is killed and started again.
 */
export async function outageCrashesAndBrokerRestart(
  ctx: TestContext,
  world: SyncWorld,
  records: EncodedRecord[],
  api: 'civil-status' | 'land',
  progressed: () => Promise<number>,
  kills: Array<[ServiceProcess, number]>,
): Promise<void> {
  await world.produce(records);
  world.phase(`${records.length} records produced`);
  await expectEventually(async () => expect(await progressed()).toBeGreaterThan(200), {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  world.phase(`${await progressed()} past the registry; ${api} registry down`);
  await portalAdmin(world.sim, 'PUT', `/faults/${api}`, { down: true });
  const downAt = Date.now();
  await expectEventually(
    () => expect(world.syncStatusesV2().some((s) => s.state === 'RETRYING')).toBe(true),
    { timeoutMs: 30_000 },
  );
  // The outage lasts 30 s whatever the test sees meanwhile: its length is the fault itself.
  await new Promise((done) => setTimeout(done, Math.max(0, 30_000 - (Date.now() - downAt))));
  await portalAdmin(world.sim, 'PUT', `/faults/${api}`, {});
  world.phase(`${api} registry up again`);

  for (const [instance, threshold] of kills) {
    await expectEventually(async () => expect(await progressed()).toBeGreaterThan(threshold), {
      timeoutMs: 180_000,
      intervalMs: 50,
    });
    expect(await instance.kill()).toBeNull();
    world.phase(`past ${threshold}: an instance killed (SIGKILL)`);
    await instance.start();
    world.phase('started again');
  }
  const broker = new BrokerControl(ctx.stack.kind);
  await broker.kill();
  await broker.start();
  world.phase('broker restarted');
}
