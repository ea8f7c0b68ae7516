import { ServiceProcess, testStack } from '@lienthong/testing';

describe('portal-sim as a process: health', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = new ServiceProcess({
      entry: 'services/portal-sim/dist/main.js',
      env: { DATABASE_URL: testStack().databaseUrl, PORTAL_SIM_SCHEMA: 'portal_sim_e2e' },
    });
    await service.start();
  });

  afterAll(async () => {
    await service.stop();
  });

  it('reports ready once its PostgreSQL schema answers', async () => {
    const res = await fetch(await service.url('/health/ready'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' } },
    });
  });

  it('reports live', async () => {
    const res = await fetch(await service.url('/health/live'));
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('exits cleanly on SIGTERM', async () => {
    // Its own process: the tests above keep theirs whatever the order tests run in.
    const own = new ServiceProcess({
      entry: 'services/portal-sim/dist/main.js',
      env: { DATABASE_URL: testStack().databaseUrl, PORTAL_SIM_SCHEMA: 'portal_sim_e2e' },
    });
    await own.start();
    expect(await own.stop()).toBe(0);
  });
});

describe('portal-sim as a process: bad configuration', () => {
  it('refuses to start and names the variable and the rule', async () => {
    const service = new ServiceProcess({
      entry: 'services/portal-sim/dist/main.js',
      env: { DATABASE_URL: 'mysql://nope', PORTAL_SIM_SCHEMA: 'Bad-Name' },
      readyTimeoutMs: 10_000,
    });
    await expect(service.start()).rejects.toThrow(/exited with 1/);
    expect(service.logs).toContain('DATABASE_URL: must match pattern');
    expect(service.logs).toContain('PORTAL_SIM_SCHEMA: must match pattern');
  });
});
