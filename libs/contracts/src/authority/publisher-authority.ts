import { headerText } from '../envelope/cloud-event.codec';
import type { KafkaRecord } from '../envelope/cloud-event.codec';
import { failure } from '../validation/validation-failure';
import type { Validated } from '../validation/validation-failure';

/**
 * Who published a commune event, as the trusted writer that authenticated it stamped it on the
 * record (docs/security.md): a commune system (`commune:26734`) publishes for itself only, a
 * province system (`province:46`) for the communes of its province. Commune systems cannot set it:
 * only trusted writers (ingest-gateway, the simulator of commune systems) may write commune
 * topics (Kafka ACLs), and they set it from the credential, never from the event.
 */
export const AUTHORITY_HEADER = 'lienthong-authority';

export type PublisherAuthority =
  { kind: 'commune'; code: string } | { kind: 'province'; code: string };

const AUTHORITY = /^(commune:[0-9]{5}|province:[0-9]{2})$/;

export function formatAuthority(authority: PublisherAuthority): string {
  return `${authority.kind}:${authority.code}`;
}

export function parseAuthority(value: string): PublisherAuthority | undefined {
  if (!AUTHORITY.test(value)) return undefined;
  const [kind, code] = value.split(':') as ['commune' | 'province', string];
  return { kind, code };
}

/** Whether `authority` may publish for `communeCode` (`provinceOf` knows each commune's province). */
export function authorityCovers(
  authority: PublisherAuthority,
  communeCode: string,
  provinceOf: (communeCode: string) => string | undefined,
): boolean {
  return authority.kind === 'commune'
    ? authority.code === communeCode
    : provinceOf(communeCode) === authority.code;
}

/**
 * The consumer's side of it: a commune event is applied only if the record's authority covers the
 * commune the event names (`ce_communecode`). Missing or malformed: refused as unauthenticated;
 * another commune's or province's: refused as forbidden. Either way the event is dead-lettered
 * with the reason and nothing of it is applied.
 */
export function checkAuthority(
  record: KafkaRecord,
  communeCode: string,
  provinceOf: (communeCode: string) => string | undefined,
  eventType?: string,
): Validated<PublisherAuthority> {
  const value = headerText(record.headers?.[AUTHORITY_HEADER]);
  const authority = value === undefined ? undefined : parseAuthority(value);
  if (authority === undefined) {
    return failure(
      'validate',
      'UNAUTHENTICATED_PUBLISHER',
      [
        {
          path: AUTHORITY_HEADER,
          field: AUTHORITY_HEADER,
          rule: value === undefined ? 'required' : 'pattern',
          message: `${AUTHORITY_HEADER}: ${value === undefined ? 'is required' : 'must be commune:<5 digits> or province:<2 digits>'}; commune events come through a trusted writer that authenticates the commune (ingest-gateway)`,
        },
      ],
      eventType,
    );
  }
  if (!authorityCovers(authority, communeCode, provinceOf)) {
    return failure(
      'validate',
      'FORBIDDEN_COMMUNE',
      [
        {
          path: 'ce_communecode',
          field: 'ce_communecode',
          rule: 'publisher-authority-covers-commune',
          message: `ce_communecode: ${formatAuthority(authority)} may not publish for commune ${communeCode}`,
        },
      ],
      eventType,
    );
  }
  return { ok: true, value: authority };
}
