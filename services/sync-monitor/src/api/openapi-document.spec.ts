import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { opsApiDocument } from './openapi-document';

describe('the ops API document', () => {
  it('contracts/openapi/sync-monitor.openapi.yaml is what the code generates (npm run monitor:openapi)', async () => {
    const checkedIn: unknown = parse(
      readFileSync(
        resolve(__dirname, '../../../../contracts/openapi/sync-monitor.openapi.yaml'),
        'utf8',
      ),
    );
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(await opsApiDocument())));
  });

  it('documents every route of the ops API, signed in by bearer token', async () => {
    const doc = await opsApiDocument();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/commands',
      '/api/commands/discard-dead-letters',
      '/api/commands/pause-communes',
      '/api/commands/pause-target',
      '/api/commands/reconcile',
      '/api/commands/replay-dead-letters',
      '/api/commands/resume-communes',
      '/api/commands/resume-target',
      '/api/commands/resync',
      '/api/communes',
      '/api/dead-letters',
      '/api/entities/{domain}/{key}',
      '/api/indicators',
      '/api/me',
      '/api/paused-communes',
      '/api/portals',
      '/api/reconcile-runs',
      '/api/session',
      '/api/targets',
    ]);
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ scheme: 'bearer' });
  });
});
