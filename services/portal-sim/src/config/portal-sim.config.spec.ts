import { loadPortalSimConfig } from './portal-sim.config';

describe('portal-sim config', () => {
  it('needs only DATABASE_URL; binds to loopback on 8090 in its own schema by default', () => {
    expect(
      loadPortalSimConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/lienthong' }),
    ).toEqual({
      PORT: 8090,
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/lienthong',
      PORTAL_SIM_SCHEMA: 'portal_sim',
    });
  });
});
