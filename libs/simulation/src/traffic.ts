import type { Commune } from '@lienthong/admin-units';
import type { EncodedRecord } from '@lienthong/contracts';
import { FIXTURE_COMMUNES, unitOf } from './communes';
import { dossierLifecycle } from './dossier';
import type { DossierEvent, DossierLifecycle } from './dossier';
import { Rng } from './random';
import { lifecycleRecords, toRecord } from './records';
import { civilStatusLife, landLife } from './registries';
import type { RegistryLife } from './registries';
import { DAY, vnTime } from './time';

export interface TrafficOptions {
  /** New dossiers per minute of real time, over all communes (arrivals are a Poisson process). */
  dossiersPerMinute: number;
  /**
   * Simulated seconds per real second: 3600 plays an hour of a commune's day each second, so a
   * dossier that takes two days to process emits its events over 48 s.
   */
  timeScale: number;
  /** Share of dossiers whose commune system sends one mistaken header revision (then corrects it). */
  mistakeRatio: number;
  /** New civil-status registrations and land dossiers per minute (0 when left out); same mistake ratio. */
  civilStatusPerMinute?: number;
  landPerMinute?: number;
  communes?: readonly Commune[];
  seed?: number;
  /** Real time the traffic starts at (ms); the simulated clock starts at the same instant. */
  startAt: number;
}

export interface TrafficStats {
  started: number;
  /** Dossiers whose every event has been handed out. */
  completed: number;
  inFlight: number;
  emitted: number;
  /** Header revisions sent with a deliberate data-entry mistake (they belong in the DLQ). */
  mistakes: number;
}

/** Where a record goes: the domain's commune topic. */
export type TrafficDomain = 'dossier' | 'civil-status' | 'land';

export interface DueRecord {
  domain: TrafficDomain;
  record: EncodedRecord;
}

interface Pending extends DueRecord {
  dueAt: number;
  /** Whether this is its entity's last record (completion is counted when it leaves). */
  last: boolean;
}

/** An independent Poisson arrival stream of one domain's new entities. */
interface Arrivals {
  perMinute: number;
  next: number;
}

function checkRate(dossiersPerMinute: number): void {
  if (!(dossiersPerMinute >= 0)) throw new RangeError('dossiersPerMinute must be ≥ 0');
}

/**
 * Realistic commune traffic on a compressed clock: dossiers arrive at random (exponential gaps)
 * in random communes, and each plays its lifecycle (1 → 2 → 4 → (5 → 4) → 9 → 10, header
 * snapshots and processing steps) with the gaps between its events divided by `timeScale`.
 * Records carry simulated times (the commune's clock), so MaHoSo dates advance with it and each
 * unit numbers its dossiers per simulated day, as one-stop systems do.
 *
 * Pure and deterministic for a seed: the caller asks `due(now)` and publishes what comes back.
 */
export class CommuneTraffic {
  private readonly rng: Rng;
  private readonly communes: readonly Commune[];
  private readonly queue: Pending[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly arrivals: Record<TrafficDomain, Arrivals>;
  /** Where this run's numbering starts: runs with other seeds do not reuse MaHoSo numbers of a day. */
  private readonly numberBase: number;
  private readonly counts: Omit<TrafficStats, 'inFlight'> = {
    started: 0,
    completed: 0,
    emitted: 0,
    mistakes: 0,
  };

  constructor(private readonly options: TrafficOptions) {
    checkRate(options.dossiersPerMinute);
    if (!(options.timeScale >= 1)) throw new RangeError('timeScale must be ≥ 1');
    if (!(options.mistakeRatio >= 0 && options.mistakeRatio <= 1))
      throw new RangeError('mistakeRatio must be within [0, 1]');
    checkRate(options.civilStatusPerMinute ?? 0);
    checkRate(options.landPerMinute ?? 0);
    const seed = options.seed ?? 20250701;
    this.rng = new Rng(seed);
    this.numberBase = (seed % 90) * 1000;
    this.communes = options.communes ?? FIXTURE_COMMUNES;
    if (this.communes.length === 0) throw new RangeError('communes must not be empty');
    const stream = (perMinute: number): Arrivals => ({
      perMinute,
      next: options.startAt + this.gap(perMinute),
    });
    this.arrivals = {
      dossier: stream(options.dossiersPerMinute),
      'civil-status': stream(options.civilStatusPerMinute ?? 0),
      land: stream(options.landPerMinute ?? 0),
    };
  }

  get stats(): TrafficStats {
    return { ...this.counts, inFlight: this.counts.started - this.counts.completed };
  }

  /** New dossiers per minute. */
  get rate(): number {
    return this.arrivals.dossier.perMinute;
  }

  get rates(): Record<TrafficDomain, number> {
    return {
      dossier: this.arrivals.dossier.perMinute,
      'civil-status': this.arrivals['civil-status'].perMinute,
      land: this.arrivals.land.perMinute,
    };
  }

  /** Changes the dossier arrival rate from `now` on (0 stops arrivals; dossiers under way play to the end). */
  setRate(dossiersPerMinute: number, now: number): void {
    this.setRates({ dossier: dossiersPerMinute }, now);
  }

  /** Changes the arrival rates given from `now` on; 0 everywhere stops all arrivals. */
  setRates(rates: Partial<Record<TrafficDomain, number>>, now: number): void {
    for (const [domain, perMinute] of Object.entries(rates) as Array<[TrafficDomain, number]>) {
      checkRate(perMinute);
      this.arrivals[domain] = { perMinute, next: now + this.gap(perMinute) };
    }
  }

  /** The simulated instant matching a real one. */
  simulatedTime(realMs: number): number {
    return this.options.startAt + (realMs - this.options.startAt) * this.options.timeScale;
  }

  /** Every record due at or before `now` (real ms), in due order; starts the entities that arrived. */
  due(now: number): DueRecord[] {
    for (const domain of ['dossier', 'civil-status', 'land'] as const) {
      const a = this.arrivals[domain];
      while (a.next <= now) {
        if (domain === 'dossier') this.start(a.next);
        else this.startRegistry(domain, a.next);
        a.next += this.gap(a.perMinute);
      }
    }
    let n = 0;
    while (n < this.queue.length && (this.queue[n] as Pending).dueAt <= now) n += 1;
    const out = this.queue.splice(0, n);
    this.counts.emitted += out.length;
    this.counts.completed += out.filter((p) => p.last).length;
    return out.map((p) => ({ domain: p.domain, record: p.record }));
  }

  /** Real ms until the next record or arrival (for the caller's timer); Infinity when idle forever. */
  msUntilNext(now: number): number {
    const next = Math.min(
      this.queue[0]?.dueAt ?? Infinity,
      ...Object.values(this.arrivals).map((a) => a.next),
    );
    return Math.max(0, next - now);
  }

  private gap(perMinute: number): number {
    const perMs = perMinute / 60_000;
    if (perMs === 0) return Infinity;
    return -Math.log(1 - this.rng.next()) / perMs;
  }

  /** A civil-status registration or a land dossier: its events on the compressed clock. */
  private startRegistry(domain: 'civil-status' | 'land', realAt: number): void {
    const options = {
      communes: this.communes,
      at: this.simulatedTime(realAt),
      mistake: this.rng.chance(this.options.mistakeRatio),
    };
    const life: RegistryLife =
      domain === 'civil-status' ? civilStatusLife(this.rng, options) : landLife(this.rng, options);
    if (life.events.some((e) => e.mistake)) this.counts.mistakes += 1;
    life.events.forEach((e, i) => {
      const record = toRecord(
        {
          name: '',
          type: e.type,
          topic: '',
          data: e.data,
          communeCode: life.communeCode,
          sequence: e.sequence,
        },
        { time: vnTime(options.at + e.afterMs) },
      );
      this.enqueue({
        domain,
        dueAt: realAt + e.afterMs / this.options.timeScale,
        record,
        last: i === life.events.length - 1,
      });
    });
    this.counts.started += 1;
  }

  private start(realAt: number): void {
    const commune = this.rng.pick(this.communes);
    const simDay = vnTime(this.simulatedTime(realAt)).slice(0, 10);
    const { unit } = unitOf(commune);
    const key = `${unit}|${simDay}`;
    const number = (this.numbers.get(key) ?? this.numberBase) + 1;
    this.numbers.set(key, number);
    this.forgetOldDays(simDay);

    const life = dossierLifecycle(this.rng, { commune, submittedOn: simDay, number });
    if (this.rng.chance(this.options.mistakeRatio)) this.mistype(life);
    // ce_time is when the occurrence happened: the commune's (simulated) clock.
    const records = lifecycleRecords(life, (sequence) => ({
      time: (life.events[sequence - 1] as DossierEvent).time,
    }));
    const firstSim = Date.parse(life.events[0]?.time ?? vnTime(realAt));
    // The first event goes out now; the rest keep their simulated gaps, compressed.
    records.forEach((record, i) => {
      const sim = Date.parse((life.events[i] as { time: string }).time);
      this.enqueue({
        domain: 'dossier',
        dueAt: realAt + (sim - firstSim) / this.options.timeScale,
        record,
        last: i === records.length - 1,
      });
    });
    this.counts.started += 1;
  }

  /**
   * A data-entry mistake a commune system really sends: one later header revision with the due
   * date before the receipt date. The validator sends it to the DLQ (rule date-order); the next
   * revision carries the right dates, so the dossier still ends correct at the portal.
   */
  private mistype(life: DossierLifecycle): void {
    const candidates = life.events.filter(
      (e, i): e is Extract<DossierEvent, { kind: 'upsert' }> =>
        e.kind === 'upsert' && i > 0 && i < life.events.length - 2 && !!e.data.NgayTiepNhan,
    );
    if (candidates.length === 0) return;
    const victim = this.rng.pick(candidates);
    const receivedAt = Date.parse(victim.data.NgayTiepNhan as string);
    victim.data = { ...victim.data, NgayHenTra: vnTime(receivedAt - DAY) };
    this.counts.mistakes += 1;
  }

  private enqueue(p: Pending): void {
    // Binary search for the insertion point: the queue stays sorted by due time, FIFO on ties
    // (a dossier's records keep their source order).
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.queue[mid] as Pending).dueAt <= p.dueAt) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, p);
  }

  /** Daily counters of past simulated days are never needed again. */
  private forgetOldDays(today: string): void {
    if (this.numbers.size < 4 * this.communes.length) return;
    for (const key of this.numbers.keys()) if (!key.endsWith(today)) this.numbers.delete(key);
  }
}
