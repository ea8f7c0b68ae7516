import type { Commune } from '@lienthong/admin-units';
import { EVENT_TYPES } from '@lienthong/contracts';
import type { BirthRegistered, EventType, LandRegistrationReceived } from '@lienthong/contracts';
import {
  birthRegistered,
  deathRegistered,
  marriageRegistered,
  registrationAmended,
} from './civil-status';
import { landRegistrationReceived, landStatusChanged } from './land';
import type { Rng } from './random';
import { DAY, HOUR, vnTime } from './time';

/** One event of a civil-status or land entity, with its delay (simulated ms) after the first. */
export interface RegistryEvent {
  type: EventType;
  data: object;
  sequence: number;
  afterMs: number;
  /** A deliberate data-entry mistake: the contract validator sends it to the DLQ. */
  mistake?: boolean;
}

export interface RegistryLife {
  domain: 'civil-status' | 'land';
  key: string;
  communeCode: string;
  events: RegistryEvent[];
}

/** The generators pick their commune: draw until one of `communes` comes (they all are fixtures). */
function inCommunes<T>(
  rng: Rng,
  communes: readonly Commune[],
  make: () => T,
  commune: (t: T) => string,
): T {
  const wanted = new Set(communes.map((c) => c.code));
  for (let i = 0; i < 10_000; i += 1) {
    const t = make();
    if (wanted.has(commune(t))) return t;
  }
  throw new RangeError('no fixture commune among the communes asked for');
}

/**
 * A civil-status registration as a commune system sends it, registered at `at` (simulated ms):
 * a birth (60%), a death (25%) or a marriage (15%); a mistaken first send (the registration date
 * before the birth) corrected at once; one birth in twenty amended a few days later.
 */
export function civilStatusLife(
  rng: Rng,
  o: { communes: readonly Commune[]; at: number; mistake: boolean },
): RegistryLife {
  const roll = rng.next();
  const at = vnTime(o.at);
  const kind = roll < 0.6 ? 'birth' : roll < 0.85 ? 'death' : 'marriage';
  const events: RegistryEvent[] = [];
  if (kind === 'birth') {
    const birth = inCommunes(
      rng,
      o.communes,
      () => birthRegistered(rng, { ngayDangKy: at }),
      (b) => b.maXa,
    );
    // Born one to twenty days before it is registered.
    const record = { ...birth, nksNgaySinh: vnTime(o.at - rng.int(1, 20) * DAY).slice(0, 10) };
    if (o.mistake) {
      const mistaken: BirthRegistered = { ...record, ngayDangKy: vnTime(o.at - 40 * DAY) };
      events.push({
        type: EVENT_TYPES.BirthRegistered,
        data: mistaken,
        sequence: 1,
        afterMs: 0,
        mistake: true,
      });
    }
    events.push({
      type: EVENT_TYPES.BirthRegistered,
      data: record,
      sequence: events.length + 1,
      afterMs: o.mistake ? HOUR : 0,
    });
    if (rng.chance(0.05)) {
      const amendment = registrationAmended(rng, {
        maDinhDanhHoSo: record.maDinhDanhHoSo,
        maTinh: record.maTinh,
        maXa: record.maXa,
        ngayThayDoi: vnTime(o.at + 5 * DAY),
      });
      events.push({
        type: EVENT_TYPES.RegistrationAmended,
        data: amendment,
        sequence: events.length + 1,
        afterMs: 5 * DAY,
      });
    }
    return { domain: 'civil-status', key: record.maDinhDanhHoSo, communeCode: record.maXa, events };
  }
  if (kind === 'death') {
    const death = inCommunes(
      rng,
      o.communes,
      () => deathRegistered(rng),
      (d) => d.maXa,
    );
    events.push({ type: EVENT_TYPES.DeathRegistered, data: death, sequence: 1, afterMs: 0 });
    return { domain: 'civil-status', key: death.maDinhDanhHoSo, communeCode: death.maXa, events };
  }
  const marriage = inCommunes(
    rng,
    o.communes,
    () => marriageRegistered(rng),
    (m) => m.maXa,
  );
  events.push({ type: EVENT_TYPES.MarriageRegistered, data: marriage, sequence: 1, afterMs: 0 });
  return {
    domain: 'civil-status',
    key: marriage.maDinhDanhHoSo,
    communeCode: marriage.maXa,
    events,
  };
}

/**
 * A land registration as the one-stop desk sends it: the received dossier (a mistaken first send
 * with its due date before its receipt, corrected at once), and ten days later the commune's own
 * record that it returned the result.
 */
export function landLife(
  rng: Rng,
  o: { communes: readonly Commune[]; at: number; mistake: boolean },
): RegistryLife {
  const received = vnTime(o.at);
  const dossier = inCommunes(
    rng,
    o.communes,
    () =>
      landRegistrationReceived(rng, {
        NgayTiepNhan: received,
        NgayHenTra: vnTime(o.at + 10 * DAY),
      }),
    (d) => d.XaId,
  );
  const events: RegistryEvent[] = [];
  if (o.mistake)
    events.push({
      type: EVENT_TYPES.LandRegistrationReceived,
      data: { ...dossier, NgayHenTra: vnTime(o.at - DAY) } satisfies LandRegistrationReceived,
      sequence: 1,
      afterMs: 0,
      mistake: true,
    });
  events.push({
    type: EVENT_TYPES.LandRegistrationReceived,
    data: dossier,
    sequence: events.length + 1,
    afterMs: o.mistake ? HOUR : 0,
  });
  events.push({
    type: EVENT_TYPES.LandStatusChanged,
    data: landStatusChanged(rng, {
      MaHoSoMotCua: dossier.MaHoSoMotCua,
      TrangThai: 'RESULT_RETURNED',
      ThoiDiem: vnTime(o.at + 10 * DAY),
    }),
    sequence: events.length + 1,
    afterMs: 10 * DAY,
  });
  return { domain: 'land', key: dossier.MaHoSoMotCua, communeCode: dossier.XaId, events };
}
