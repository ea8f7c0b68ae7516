import { ContractValidator, EVENT_TYPES } from '@lienthong/contracts';
import { reconcileProgressMessage } from './reconcile-progress';
import type { RunProgress } from './reconcile-runs';

const progress = (overrides: Partial<RunProgress> = {}): RunProgress => ({
  id: '6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f',
  tier: null,
  status: 'running',
  dryRun: true,
  sample: false,
  total: 3000,
  checked: 1200,
  matched: 1190,
  missing: 4,
  drifted: 6,
  inFlux: 0,
  repaired: 0,
  verified: 0,
  rate: 40,
  etaSeconds: 45,
  startedAt: '2026-11-30T08:00:00.000Z',
  finishedAt: null,
  ...overrides,
});

describe('sync.reconcile.v1 progress', () => {
  const validator = new ContractValidator();

  it('a full run: counts, rate and ETA, no drift bound; valid against its contract', () => {
    const message = reconcileProgressMessage('dossier-sync', 'dvcqg', progress());
    expect(message).toMatchObject({ checked: 1200, drifted: 6, driftRateUpperBound: null });
    expect(validator.validate(EVENT_TYPES.ReconcileProgress, message).ok).toBe(true);
  });

  it('a finished sample run: 0 differences in 3,000 checks bounds the drift rate under 0.1 % at 95 %', () => {
    const message = reconcileProgressMessage(
      'land-sync',
      'land-registry',
      progress({
        tier: 'sweep',
        sample: true,
        status: 'finished',
        checked: 3000,
        matched: 3000,
        missing: 0,
        drifted: 0,
        etaSeconds: 0,
        finishedAt: '2026-11-30T08:01:15.000Z',
      }),
    );
    expect(message.driftRateUpperBound).toBeGreaterThan(0.0009);
    expect(message.driftRateUpperBound).toBeLessThan(0.001);
    expect(validator.validate(EVENT_TYPES.ReconcileProgress, message).ok).toBe(true);
  });

  it('the contract refuses a message that names what differs (counts only)', () => {
    const message = {
      ...reconcileProgressMessage('dossier-sync', 'dvcqg', progress()),
      keys: ['X'],
    };
    expect(validator.validate(EVENT_TYPES.ReconcileProgress, message).ok).toBe(false);
  });
});
