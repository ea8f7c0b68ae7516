/**
 * A result's reference on sync.status.v2 (`receipt.result.resultRef`): `<domain>:<entity key>:<source
 * sequence>`, minted by the sync service that holds the result and resolved through ingest-gateway
 * by the owning commune only. One place for the format: who writes it and who reads it agree.
 */
export interface ResultRef {
  domain: string;
  entityKey: string;
  sequence: string;
}

const RESULT_REF = /^([a-z-]+):(.{1,200}):([0-9]{1,15})$/;

export function formatResultRef(
  domain: string,
  entityKey: string,
  sequence: string | number,
): string {
  return `${domain}:${entityKey}:${sequence}`;
}

export function parseResultRef(ref: string): ResultRef | undefined {
  const parts = RESULT_REF.exec(ref);
  return parts
    ? { domain: parts[1] as string, entityKey: parts[2] as string, sequence: parts[3] as string }
    : undefined;
}
