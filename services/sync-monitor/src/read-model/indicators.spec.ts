import { indicatorRates } from './indicators';
import type { IndicatorCounts } from './indicators';

const counts = (over: Partial<IndicatorCounts> = {}): IndicatorCounts => ({
  received: 0,
  synced: 0,
  finishedEarly: 0,
  finishedOnTime: 0,
  finishedLate: 0,
  overdueOpen: 0,
  inProgress: 0,
  online: 0,
  digitised: 0,
  supplementRequested: 0,
  stopped: 0,
  ...over,
});

describe('Decision 766 rates', () => {
  it('computes each rate in percent with 2 decimals', () => {
    const r = indicatorRates(
      counts({
        received: 412,
        synced: 409,
        finishedEarly: 201,
        finishedOnTime: 96,
        finishedLate: 6,
        overdueOpen: 2,
        inProgress: 98,
        online: 287,
        digitised: 350,
      }),
    );
    expect(r).toEqual({
      syncRate: 99.27, // 409 / 412
      onTimeRate: 97.38, // 297 / 305: in-progress dossiers are not measured
      onlineShare: 69.66, // 287 / 412
      onlineScore: 69.15, // 69.66 % × 99.27 %
      digitisedShare: 84.95, // 350 / 412
    });
  });

  it('is N/A (null) when nothing is there to measure, never 0 or 100', () => {
    expect(indicatorRates(counts())).toEqual({
      syncRate: null,
      onTimeRate: null,
      onlineShare: null,
      onlineScore: null,
      digitisedShare: null,
    });
    expect(indicatorRates(counts({ received: 3, synced: 3, inProgress: 3 })).onTimeRate).toBeNull();
  });

  it('counts an unfinished dossier past its due day against the on-time rate', () => {
    expect(
      indicatorRates(counts({ received: 2, finishedOnTime: 1, overdueOpen: 1 })).onTimeRate,
    ).toBe(50);
  });
});
