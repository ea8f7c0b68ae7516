import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ingestApiDocument } from './openapi-document';

describe('the ingest API document', () => {
  it('contracts/openapi/ingest-gateway.openapi.yaml is what the code generates (npm run gateway:openapi)', async () => {
    const checkedIn: unknown = parse(
      readFileSync(
        resolve(__dirname, '../../../contracts/openapi/ingest-gateway.openapi.yaml'),
        'utf8',
      ),
    );
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(await ingestApiDocument())));
  });

  it('documents every route, with a bearer token and each refusal', async () => {
    const doc = await ingestApiDocument();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/events',
      '/v1/receipts',
      '/v1/results',
      '/v1/statuses',
      '/v1/statuses/{domain}/{key}',
    ]);
    expect(Object.keys(doc.paths['/v1/events']?.post?.responses ?? {}).sort()).toEqual([
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '415',
      '422',
      '429',
    ]);
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ scheme: 'bearer' });
  });
});
