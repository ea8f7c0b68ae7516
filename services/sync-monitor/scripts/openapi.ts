// `npm run monitor:openapi`: writes the ops API's OpenAPI document, generated from the code, to
// contracts/openapi/sync-monitor.openapi.yaml (CI checks that the two agree).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { opsApiDocument } from '../src/api/openapi-document';

export const OPENAPI_FILE = resolve(
  __dirname,
  '../../../contracts/openapi/sync-monitor.openapi.yaml',
);

opsApiDocument().then(
  (doc) => {
    writeFileSync(OPENAPI_FILE, stringify(doc, { lineWidth: 100, aliasDuplicateObjects: false }));
    process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
