import { ConfigError } from '@lienthong/config';
import { loadPortalSimConfig } from './portal-sim.config';
import { PortalSimSettings } from './portal-sim.settings';

describe('portal-sim config', () => {
  const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/lienthong' };

  it('needs only DATABASE_URL; binds to loopback on 8090 in its own schema by default', () => {
    expect(loadPortalSimConfig(env)).toMatchObject({
      PORT: 8090,
      HOST: '127.0.0.1',
      PORTAL_SIM_SCHEMA: 'portal_sim',
      PORTAL_SIM_FAULTS: '{}',
    });
  });

  it('reads credentials and start-up faults', () => {
    const settings = new PortalSimSettings(
      loadPortalSimConfig({
        ...env,
        PORTAL_SIM_DVCQG_USERS: 'a:x,b:y:z',
        PORTAL_SIM_FAULTS: '{"dvcqg":{"down":true}}',
      }),
    );
    expect(settings.dvcqgUsers.get('b')).toBe('y:z');
    expect(settings.faults.dvcqg).toEqual({ down: true });
  });

  it('names a bad variable', () => {
    expect(
      () => new PortalSimSettings(loadPortalSimConfig({ ...env, PORTAL_SIM_FAULTS: '{down' })),
    ).toThrow(ConfigError);
    expect(() => loadPortalSimConfig({ ...env, PORTAL_SIM_DVCQG_USERS: 'nopassword' })).toThrow(
      /PORTAL_SIM_DVCQG_USERS: must match pattern/,
    );
  });
});
