import { ConfigError } from '@lienthong/config';
import {
  loadSyncServiceConfig,
  portalSettings,
  portalVars,
  syncServiceVars,
} from './sync-service.config';

const VARS = {
  ...syncServiceVars({ service: 'land-sync', port: 8095, topic: 'commune.land.events.v1' }),
  ...portalVars('LAND'),
};
const base = { DATABASE_URL: 'postgres://127.0.0.1/lienthong' };

describe('the sync service configuration kit', () => {
  it("derives a service's defaults from its name, port and topic", () => {
    const config = loadSyncServiceConfig('land-sync', VARS, base);
    expect(config).toMatchObject({
      PORT: 8095,
      DB_SCHEMA: 'land_sync',
      KAFKA_GROUP_ID: 'lienthong-land-sync',
      EVENTS_TOPIC: 'commune.land.events.v1',
      SYNC_STATUS_TOPIC: 'sync.status.v1',
      SYNC_HEALTH_TOPIC: 'sync.health.v2',
      LAND_TIMEOUT_MS: 5000,
      LAND_MAX_HOLD_MS: 60_000,
    });
  });

  it("reads a portal's gateway settings back from under its prefix", () => {
    const config = loadSyncServiceConfig('land-sync', VARS, { ...base, LAND_HOLD_MS: '750' });
    expect(portalSettings(config, 'LAND')).toMatchObject({ HOLD_MS: 750, TIMEOUT_MS: 5000 });
  });

  it('names every bad variable and its rule, the rules between variables included', () => {
    let error: unknown;
    try {
      loadSyncServiceConfig('land-sync', VARS, {
        LAND_TIMEOUT_MS: 'soon',
        RETRY_INITIAL_MS: '5000',
        RETRY_MAX_MS: '1000',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(
      expect.arrayContaining([
        "DATABASE_URL: must have required property 'DATABASE_URL'",
        'LAND_TIMEOUT_MS: must be integer',
      ]),
    );
    expect(() =>
      loadSyncServiceConfig('land-sync', VARS, {
        ...base,
        RETRY_INITIAL_MS: '5000',
        RETRY_MAX_MS: '1000',
      }),
    ).toThrow('RETRY_MAX_MS: must be at least RETRY_INITIAL_MS');
  });
});
