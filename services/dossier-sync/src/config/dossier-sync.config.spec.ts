import { ConfigError } from '@lienthong/config';
import { loadDossierSyncConfig } from './dossier-sync.config';

const base = { DATABASE_URL: 'postgres://127.0.0.1/lienthong' };

describe('dossier-sync configuration', () => {
  it('applies defaults that run against the local stack and portal-sim', () => {
    const config = loadDossierSyncConfig(base);
    expect(config).toMatchObject({
      PORT: 8091,
      KAFKA_BROKERS: '127.0.0.1:9092',
      EVENTS_TOPIC: 'commune.dossier.events.v1',
      DB_SCHEMA: 'dossier_sync',
      KAFKA_GROUP_ID: 'lienthong-dossier-sync',
      DVCQG_TIMEOUT_MS: 5000,
      SYNC_STATUS_TOPIC: 'sync.status.v1',
      DVCQG_BASE_URL: 'http://127.0.0.1:8090',
      DISPATCH_LEASE_MS: 15_000,
    });
    expect(config.INSTANCE_ID).toContain(String(process.pid));
  });

  it('names each bad variable and its rule', () => {
    const fail = (env: Record<string, string>) => {
      try {
        loadDossierSyncConfig({ ...base, ...env });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems;
      }
      throw new Error('expected a ConfigError');
    };
    expect(fail({ KAFKA_BROKERS: 'localhost' })).toEqual([
      expect.stringMatching(/^KAFKA_BROKERS: must match pattern/) as string,
    ]);
    expect(fail({ DISPATCH_LEASE_MS: '500' })).toEqual([
      expect.stringMatching(/^DISPATCH_LEASE_MS: must be >= 1000/) as string,
    ]);
    expect(fail({ RETRY_INITIAL_MS: '5000', RETRY_MAX_MS: '1000' })).toEqual([
      'RETRY_MAX_MS: must be at least RETRY_INITIAL_MS',
    ]);
  });
});
