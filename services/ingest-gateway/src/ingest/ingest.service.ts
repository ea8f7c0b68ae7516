import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Message } from 'kafkajs';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { DataSource } from 'typeorm';
import {
  AUTHORITY_HEADER,
  ContractValidator,
  EVENT_CATALOG,
  authorityCovers,
  formatAuthority,
  readEvent,
  structuredToRecord,
  toProblemDetails,
} from '@lienthong/contracts';
import type { KafkaRecord, ValidationFailure } from '@lienthong/contracts';
import { EventProducer } from '@lienthong/messaging';
import { Problem } from '@lienthong/observability';
import type { Caller } from '../auth/commune-credentials';
import type { IngestGatewayConfig } from '../config/ingest-gateway.config';
import { GATEWAY_CONFIG, PROVINCE_OF } from '../tokens';

/** What became of one posted event. */
export interface EventReceipt {
  index: number;
  source: string;
  id: string;
  /** `accepted`: on Kafka now; `duplicate`: taken before (same source, id and content), not sent again. */
  status: 'accepted' | 'duplicate';
  topic: string;
}

interface Checked {
  index: number;
  record: KafkaRecord & { key: string; headers: Record<string, string> };
  source: string;
  id: string;
  type: string;
  commune: string;
  topic: string;
  digest: string;
}

const COMMUNE_TOPIC_OF_TYPE = new Map(
  EVENT_CATALOG.filter((e) => e.topic.startsWith('commune.')).map((e) => [e.ceType as string, e]),
);

/**
 * Takes a commune system's events: rate-limited per commune (or province system), checked exactly
 * as a consumer checks a Kafka record (readEvent: envelope, contract, business rules), refused as
 * a whole if any event is for a commune the caller may not publish for (403) or breaks its
 * contract (422), deduplicated on CloudEvents source + id, stamped with the caller's authority and
 * published (acks from all in-sync replicas) before the caller hears 202.
 */
@Injectable()
export class IngestService {
  private readonly limiter: BurstyRateLimiter;
  /** Where each contract topic's events go (tests use copies). */
  private readonly topics: Record<string, string>;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: IngestGatewayConfig,
    @Inject(PROVINCE_OF) private readonly provinceOf: (commune: string) => string | undefined,
    @InjectDataSource() private readonly db: DataSource,
    private readonly producer: EventProducer,
    private readonly validator: ContractValidator,
  ) {
    this.topics = {
      'commune.dossier.events.v1': config.DOSSIER_TOPIC,
      'commune.civil-status.events.v1': config.CIVIL_STATUS_TOPIC,
      'commune.land.events.v1': config.LAND_TOPIC,
    };
    const rate = config.RATE_PER_SECOND;
    this.limiter = new BurstyRateLimiter(
      new RateLimiterMemory({ keyPrefix: 'rate', points: rate, duration: 1 }),
      new RateLimiterMemory({
        keyPrefix: 'burst',
        points: config.RATE_BURST,
        duration: Math.max(1, Math.ceil(config.RATE_BURST / rate)),
      }),
    );
  }

  async ingest(caller: Caller, events: unknown[], single: boolean): Promise<EventReceipt[]> {
    if (events.length === 0) {
      throw new Problem(422, 'An empty batch', 'the batch holds no event', { code: 'EMPTY_BATCH' });
    }
    if (events.length > this.config.MAX_BATCH_EVENTS) {
      throw new Problem(
        413,
        'Too many events',
        `a batch holds at most ${this.config.MAX_BATCH_EVENTS} events; this one holds ${events.length}`,
        { code: 'BATCH_TOO_LARGE' },
      );
    }
    await this.takeRate(caller, events.length);
    const checked = this.check(caller, events, single);
    const fresh = await this.deduplicate(checked, single);
    const stamp = formatAuthority(caller.authority);
    const byTopic = new Map<string, Message[]>();
    for (const c of fresh) {
      const messages = byTopic.get(c.topic) ?? [];
      messages.push({
        key: c.record.key,
        value: c.record.value,
        headers: {
          ...c.record.headers,
          [AUTHORITY_HEADER]: stamp,
          'lienthong-client': caller.client,
        },
      });
      byTopic.set(c.topic, messages);
    }
    // On Kafka first, then the receipts: a crash in between means the client sends again and the
    // event is published twice, which the sync services' ledgers absorb (one effect per sequence).
    // One produce request for every topic of the batch.
    if (byTopic.size > 0)
      await this.producer.sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    if (fresh.length > 0) {
      await this.db.query(
        `insert into receipt (source, id, digest, event_type, topic, commune_code, client)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         on conflict (source, id) do nothing`,
        [
          fresh.map((c) => c.source),
          fresh.map((c) => c.id),
          fresh.map((c) => c.digest),
          fresh.map((c) => c.type),
          fresh.map((c) => c.topic),
          fresh.map((c) => c.commune),
          fresh.map(() => caller.client),
        ],
      );
    }
    const isFresh = new Set(fresh);
    return checked.map((c) => ({
      index: c.index,
      source: c.source,
      id: c.id,
      status: isFresh.has(c) ? 'accepted' : 'duplicate',
      topic: c.topic,
    }));
  }

  /** A receipt the caller may see (its own commune's, or its province's), else undefined. */
  async receipt(
    caller: Caller,
    source: string,
    id: string,
  ): Promise<
    { source: string; id: string; type: string; communeCode: string; receivedAt: Date } | undefined
  > {
    const rows = await this.db.query<
      Array<{
        source: string;
        id: string;
        event_type: string;
        commune_code: string;
        received_at: Date;
      }>
    >(
      'select source, id, event_type, commune_code, received_at from receipt where source = $1 and id = $2',
      [source, id],
    );
    const row = rows[0];
    if (!row || !authorityCovers(caller.authority, row.commune_code, this.provinceOf))
      return undefined;
    return {
      source: row.source,
      id: row.id,
      type: row.event_type,
      communeCode: row.commune_code,
      receivedAt: row.received_at,
    };
  }

  private async takeRate(caller: Caller, events: number): Promise<void> {
    try {
      await this.limiter.consume(formatAuthority(caller.authority), events);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      throw new Problem(
        429,
        'Too many events',
        `${formatAuthority(caller.authority)} may post ${this.config.RATE_PER_SECOND} events per second (bursts of ${this.config.RATE_BURST}); try again in ${seconds} s`,
        { code: 'RATE_LIMITED', retryAfterSeconds: seconds },
      );
    }
  }

  private check(caller: Caller, events: unknown[], single: boolean): Checked[] {
    const checked: Checked[] = [];
    const invalid: Array<{ index: number; failure: ValidationFailure }> = [];
    const forbidden: Array<{ index: number; commune: string }> = [];
    events.forEach((event, index) => {
      const shaped = structuredToRecord(event);
      if (!shaped.ok) return void invalid.push({ index, failure: shaped.failure });
      const record = shaped.value as Checked['record'];
      // The commune comes from the credential: a commune system may leave it out.
      if (record.headers.ce_communecode === undefined && caller.authority.kind === 'commune')
        record.headers.ce_communecode = caller.authority.code;
      const type = record.headers.ce_type ?? '';
      const entry = COMMUNE_TOPIC_OF_TYPE.get(type);
      const read = readEvent(record, entry?.topic ?? 'commune.*.events.v1', this.validator);
      if (!read.ok) return void invalid.push({ index, failure: read.failure });
      const commune = read.value.envelope.communeCode as string;
      if (!authorityCovers(caller.authority, commune, this.provinceOf))
        return void forbidden.push({ index, commune });
      checked.push({
        index,
        record,
        source: read.value.envelope.source,
        id: read.value.envelope.id,
        type,
        commune,
        topic: this.topics[entry?.topic ?? ''] as string,
        digest: digestOf(record),
      });
    });
    if (forbidden.length > 0) {
      const first = forbidden[0] as { index: number; commune: string };
      throw new Problem(
        403,
        'The publisher may not publish for this commune',
        `${formatAuthority(caller.authority)} may not publish for commune ${first.commune}${single ? '' : ` (event ${first.index}${forbidden.length > 1 ? ` and ${forbidden.length - 1} more` : ''})`}; nothing was taken`,
        {
          code: 'FORBIDDEN_COMMUNE',
          ...(single
            ? {}
            : { errors: forbidden.map((f) => ({ index: f.index, communeCode: f.commune })) }),
        },
      );
    }
    if (invalid.length > 0) {
      if (single) {
        const problem = toProblemDetails((invalid[0] as { failure: ValidationFailure }).failure);
        throw new Problem(problem.status, problem.title, problem.detail, problem);
      }
      throw new Problem(
        422,
        'Events break their contract',
        `${invalid.length} of ${events.length} events break their contract; nothing was taken`,
        {
          code: 'CONTRACT_VIOLATION',
          errors: invalid.map(({ index, failure }) => ({ index, ...toProblemDetails(failure) })),
        },
      );
    }
    return checked;
  }

  /** The events not taken before; a source + id taken before with other content is a conflict. */
  private async deduplicate(checked: Checked[], single: boolean): Promise<Checked[]> {
    const rows = await this.db.query<Array<{ source: string; id: string; digest: string }>>(
      `select source, id, digest from receipt
       where (source, id) in (select * from unnest($1::text[], $2::text[]))`,
      [checked.map((c) => c.source), checked.map((c) => c.id)],
    );
    const known = new Map(rows.map((r) => [`${r.source}\u0000${r.id}`, r.digest]));
    const fresh: Checked[] = [];
    const conflicts: number[] = [];
    for (const c of checked) {
      const k = `${c.source}\u0000${c.id}`;
      const digest = known.get(k);
      if (digest === undefined) {
        known.set(k, c.digest);
        fresh.push(c);
      } else if (digest !== c.digest) conflicts.push(c.index);
    }
    if (conflicts.length > 0) {
      throw new Problem(
        409,
        'An event id used again with other content',
        `ce_id: source and id were taken before with other content${single ? '' : ` (events ${conflicts.join(', ')})`}; a new event needs a new id; nothing was taken`,
        { code: 'ID_REUSED', ...(single ? {} : { errors: conflicts.map((index) => ({ index })) }) },
      );
    }
    return fresh;
  }
}

/** The content that makes an event itself: every header but the time it was sent, and the payload. */
function digestOf(record: Checked['record']): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(record.headers).sort()) {
    if (name === 'ce_time' || name === 'ce_traceparent') continue;
    hash.update(`${name}\u0000${record.headers[name]}\u0000`);
  }
  hash.update(record.value as Buffer);
  return hash.digest('hex');
}
