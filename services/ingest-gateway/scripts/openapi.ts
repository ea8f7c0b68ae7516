// `npm run gateway:openapi`: writes the ingest API's OpenAPI document, generated from the code,
// to contracts/openapi/ingest-gateway.openapi.yaml (a test checks that the two agree).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { ingestApiDocument } from '../src/openapi-document';

const OPENAPI_FILE = resolve(__dirname, '../../../contracts/openapi/ingest-gateway.openapi.yaml');

ingestApiDocument().then(
  (doc) => {
    writeFileSync(OPENAPI_FILE, stringify(doc, { lineWidth: 100, aliasDuplicateObjects: false }));
    process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
