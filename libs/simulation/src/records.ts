import { AUTHORITY_HEADER, EVENT_TYPES, TOPICS, encodeEvent } from '@lienthong/contracts';
import type { EncodedRecord, EventType } from '@lienthong/contracts';
import type { DossierLifecycle } from './dossier';

/** An event ready to encode: its type, its topic, its payload and envelope facts (`name` labels it in tests and logs). */
export interface CommuneEvent {
  name: string;
  type: EventType;
  topic: string;
  data: unknown;
  communeCode?: string;
  sequence?: number;
  subject?: string;
}

/**
 * Encodes an event as a commune system's events reach Kafka (or a Lienthong service's): a commune
 * event carries the authority a trusted writer stamps after authenticating the commune
 * (`lienthong-authority: commune:<code>`, docs/security.md), as ingest-gateway does.
 */
export function toRecord(
  e: CommuneEvent,
  extra: { id?: string; time?: string; traceparent?: string } = {},
): EncodedRecord {
  const commune = e.communeCode;
  const record = encodeEvent(e.type, e.data as never, {
    source: commune ? `/communes/${commune}/mot-cua` : '/lienthong/sync-monitor',
    ...(commune ? { communeCode: commune } : {}),
    ...(e.sequence !== undefined ? { sequence: e.sequence } : {}),
    ...(e.subject ? { subject: e.subject } : {}),
    ...extra,
  });
  if (commune) record.headers[AUTHORITY_HEADER] = `commune:${commune}`;
  return record;
}

/** A dossier lifecycle as the commune system puts it on Kafka: one record per event, in source order. */
export function lifecycleRecords(
  life: DossierLifecycle,
  extra: (sequence: number) => { traceparent?: string; time?: string } = () => ({}),
): EncodedRecord[] {
  return life.events.map((e) =>
    toRecord(
      {
        name: '',
        type: e.kind === 'upsert' ? EVENT_TYPES.DossierUpserted : EVENT_TYPES.DossierProgressStep,
        topic: TOPICS.communeDossierEvents,
        data: e.data,
        communeCode: life.commune.code,
        sequence: e.sequence,
      },
      extra(e.sequence),
    ),
  );
}
