import { ConfigError } from '@lienthong/config';
import { loadCommuneSimConfig } from './commune-sim.config';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadCommuneSimConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('commune-sim configuration', () => {
  it('defaults to a gentle demo load on the local stack', () => {
    expect(loadCommuneSimConfig({})).toMatchObject({
      PORT: 8092,
      KAFKA_BROKERS: '127.0.0.1:9092',
      DOSSIER_TOPIC: 'commune.dossier.events.v1',
      DOSSIERS_PER_MINUTE: 30,
      TIME_SCALE: 3600,
      MISTAKE_RATIO: 0.02,
      COMMUNES: '',
    });
  });

  it('names each bad variable and its rule', () => {
    expect(problemsOf({ MISTAKE_RATIO: '1.5' })).toEqual([
      expect.stringMatching(/^MISTAKE_RATIO: must be <= 1/) as string,
    ]);
    expect(problemsOf({ COMMUNES: '2653,26536' })).toEqual([
      expect.stringMatching(/^COMMUNES: must match pattern/) as string,
    ]);
    expect(problemsOf({ COMMUNES: '99999' })).toEqual([
      'COMMUNES: 99999 not in the commune directory (libs/admin-units/data/sample.json)',
    ]);
  });
});
