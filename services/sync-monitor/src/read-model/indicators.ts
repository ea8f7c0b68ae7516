import type { CommuneIndicators } from '@lienthong/contracts';

/** A commune's counts as the read model keeps them (the message without who and when). */
export type IndicatorCounts = Omit<
  CommuneIndicators,
  'service' | 'domain' | 'communeCode' | 'period' | 'measuredOn' | 'computedAt'
>;

/** A rate in percent, 2 decimals; null ("N/A") when its denominator is 0. */
export type Rate = number | null;

export interface IndicatorRates {
  /** synced ÷ received: what the portal scores depends on what reached it. */
  syncRate: Rate;
  /** (early + on time) ÷ (early + on time + late + overdue open); in-progress ones not counted. */
  onTimeRate: Rate;
  /** online (KenhThucHien = 2) ÷ received. */
  onlineShare: Rate;
  /** Decision 766's online score: the online share × the sync rate. */
  onlineScore: Rate;
  /** digitised (HoSoCoThanhPhanSoHoa = 1) ÷ received. */
  digitisedShare: Rate;
}

/** How each rate is computed, shown next to it (the dashboard and the API say the same). */
export const RATE_DEFINITIONS: Record<keyof IndicatorRates, string> = {
  syncRate: 'synced ÷ received (dossiers received, NgayTiepNhan, in the period)',
  onTimeRate:
    'finished early or on the due day ÷ (those + finished late + unfinished past due); due day = NgayHenTra or the latest NgayHenTraMoi of a supplement; more than one supplement request = late; days compared in Vietnam time',
  onlineShare: 'received online (KenhThucHien = 2) ÷ received',
  onlineScore: 'online share × sync rate (Decision 766)',
  digitisedShare: 'with digitised components (HoSoCoThanhPhanSoHoa = 1) ÷ received',
};

const pct = (n: number, of: number): Rate => (of > 0 ? Math.round((10_000 * n) / of) / 100 : null);

/** The rates of Decision 766 from a commune's counts (percent, 2 decimals, null when N/A). */
export function indicatorRates(c: IndicatorCounts): IndicatorRates {
  const syncRate = pct(c.synced, c.received);
  const onlineShare = pct(c.online, c.received);
  const measured = c.finishedEarly + c.finishedOnTime + c.finishedLate + c.overdueOpen;
  return {
    syncRate,
    onTimeRate: pct(c.finishedEarly + c.finishedOnTime, measured),
    onlineShare,
    onlineScore:
      onlineShare === null || syncRate === null ? null : Math.round(onlineShare * syncRate) / 100,
    digitisedShare: pct(c.digitised, c.received),
  };
}
