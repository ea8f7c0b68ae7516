import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const dir = resolve(__dirname, '../../contracts/openapi');

/**
 * swagger-parser depends on an ES module, which jest's CommonJS runtime cannot load; Node 24's own
 * require can. So each document is validated in a child Node process.
 */
function validate(file: string): { openapi: string; paths: string[] } {
  const script = `require('@apidevtools/swagger-parser').validate(process.argv[1]).then(
    (api) => process.stdout.write(JSON.stringify({ openapi: api.openapi, paths: Object.keys(api.paths) })),
    (err) => { process.stderr.write(err.message); process.exit(1); })`;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script, join(dir, file)], { encoding: 'utf8' }),
  ) as { openapi: string; paths: string[] };
}

describe('contracts/openapi', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.openapi.yaml'));

  it('documents the three national APIs portal-sim simulates, the ops API and the ingest API', () => {
    expect(files.sort()).toEqual([
      'civil-status.openapi.yaml',
      'dvcqg.openapi.yaml',
      'ingest-gateway.openapi.yaml',
      'land.openapi.yaml',
      'sync-monitor.openapi.yaml',
    ]);
  });

  it('ingest-gateway.openapi.yaml (generated from the code by @nestjs/swagger) is a valid OpenAPI 3.0 document', () => {
    const { openapi, paths } = validate('ingest-gateway.openapi.yaml');
    expect(openapi).toBe('3.0.0');
    expect(paths.sort()).toEqual([
      '/v1/events',
      '/v1/receipts',
      '/v1/results',
      '/v1/statuses',
      '/v1/statuses/{domain}/{key}',
    ]);
  });

  it('sync-monitor.openapi.yaml (generated from the code by @nestjs/swagger) is a valid OpenAPI 3.0 document', () => {
    const { openapi, paths } = validate('sync-monitor.openapi.yaml');
    expect(openapi).toBe('3.0.0');
    expect(paths).toContain('/api/communes');
    expect(paths).toContain('/api/commands/reconcile');
  });

  it.each([
    ['dvcqg.openapi.yaml', ['/dvcqg/auth', '/dvcqg/api']],
    [
      'civil-status.openapi.yaml',
      ['/hotich/token', '/hotich/NhanDKHT', '/hotich/CaiChinhDKHT', '/hotich/LayKetQua'],
    ],
    [
      'land.openapi.yaml',
      [
        '/land/connect/token',
        '/land/api/HoSo/TiepNhan',
        '/land/api/HoSo/{ma}',
        '/land/api/HoSo/{ma}/ThongBaoThue',
      ],
    ],
  ])('%s is a valid OpenAPI 3.1 document with the simulated paths', (file, paths) => {
    expect(validate(file)).toEqual({ openapi: '3.1.0', paths });
  });
});
