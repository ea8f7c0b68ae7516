import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serviceRuntime, workspaceRoot } from './service-process';

describe('serviceRuntime (deploy/service-runtime.json)', () => {
  it('gives a sync service its heap limits and allocator setting', () => {
    for (const service of ['dossier-sync', 'civil-status-sync', 'land-sync']) {
      const runtime = serviceRuntime(`services/${service}/dist/main.js`);
      expect(runtime.nodeArgs).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^--max-old-space-size=\d+$/),
          expect.stringMatching(/^--max-semi-space-size=\d+$/),
        ]),
      );
      expect(runtime.env.MALLOC_ARENA_MAX).toMatch(/^\d+$/);
    }
  });

  it('leaves a service without a profile as Node runs it by default', () => {
    expect(serviceRuntime('services/portal-sim/dist/main.js')).toEqual({ nodeArgs: [], env: {} });
    expect(serviceRuntime('test/bench/baseline/dist/main.js')).toEqual({ nodeArgs: [], env: {} });
  });

  it('names only services that exist', () => {
    // A misspelt name would silently run that service without its profile.
    const { profiles } = jest.requireActual<{ profiles: Array<{ services: string[] }> }>(
      join(workspaceRoot, 'deploy', 'service-runtime.json'),
    );
    for (const service of profiles.flatMap((p) => p.services))
      expect(existsSync(join(workspaceRoot, 'services', service, 'src', 'main.ts'))).toBe(true);
  });
});
