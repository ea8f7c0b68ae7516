import type { Commune } from '@lienthong/admin-units';
import type { EncodedRecord } from '@lienthong/contracts';
import { FIXTURE_COMMUNES, unitOf } from './communes';
import { dossierLifecycle } from './dossier';
import type { DossierEvent, DossierLifecycle } from './dossier';
import { Rng } from './random';
import { lifecycleRecords } from './records';
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

interface Pending {
  dueAt: number;
  record: EncodedRecord;
  /** Which dossier, so completion is counted when its last record leaves. */
  life: DossierLifecycle;
  last: boolean;
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
  private nextArrival: number;
  private dossiersPerMinute: number;
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
    this.dossiersPerMinute = options.dossiersPerMinute;
    this.rng = new Rng(options.seed ?? 20250701);
    this.communes = options.communes ?? FIXTURE_COMMUNES;
    if (this.communes.length === 0) throw new RangeError('communes must not be empty');
    this.nextArrival = options.startAt + this.gap();
  }

  get stats(): TrafficStats {
    return { ...this.counts, inFlight: this.counts.started - this.counts.completed };
  }

  get rate(): number {
    return this.dossiersPerMinute;
  }

  /** Changes the arrival rate from `now` on (0 stops arrivals; dossiers under way play to the end). */
  setRate(dossiersPerMinute: number, now: number): void {
    checkRate(dossiersPerMinute);
    this.dossiersPerMinute = dossiersPerMinute;
    this.nextArrival = now + this.gap();
  }

  /** The simulated instant matching a real one. */
  simulatedTime(realMs: number): number {
    return this.options.startAt + (realMs - this.options.startAt) * this.options.timeScale;
  }

  /** Every record due at or before `now` (real ms), in due order; starts the dossiers that arrived. */
  due(now: number): EncodedRecord[] {
    while (this.nextArrival <= now) {
      this.start(this.nextArrival);
      this.nextArrival += this.gap();
    }
    let n = 0;
    while (n < this.queue.length && (this.queue[n] as Pending).dueAt <= now) n += 1;
    const out = this.queue.splice(0, n);
    this.counts.emitted += out.length;
    this.counts.completed += out.filter((p) => p.last).length;
    return out.map((p) => p.record);
  }

  /** Real ms until the next record or arrival (for the caller's timer); Infinity when idle forever. */
  msUntilNext(now: number): number {
    const next = Math.min(this.queue[0]?.dueAt ?? Infinity, this.nextArrival);
    return Math.max(0, next - now);
  }

  private gap(): number {
    const perMs = this.dossiersPerMinute / 60_000;
    if (perMs === 0) return Infinity;
    return -Math.log(1 - this.rng.next()) / perMs;
  }

  private start(realAt: number): void {
    const commune = this.rng.pick(this.communes);
    const simDay = vnTime(this.simulatedTime(realAt)).slice(0, 10);
    const { unit } = unitOf(commune);
    const key = `${unit}|${simDay}`;
    const number = (this.numbers.get(key) ?? 0) + 1;
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
        dueAt: realAt + (sim - firstSim) / this.options.timeScale,
        record,
        life,
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
