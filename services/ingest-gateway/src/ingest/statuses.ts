import { Inject, Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ContractValidator, TOPICS } from '@lienthong/contracts';
import type { SyncStatusV2 } from '@lienthong/contracts';
import { EventProducer, TransactionalConsumer } from '@lienthong/messaging';
import type { ConsumerHealth } from '@lienthong/messaging';
import { TableUpkeep, jsonList } from '@lienthong/persistence';
import type { Caller } from '../auth/commune-credentials';
import type { IngestGatewayConfig } from '../config/ingest-gateway.config';
import { GATEWAY_CONFIG, PROVINCE_OF, ROOT_LOGGER } from '../tokens';

/** A status as a commune's system reads it. */
export interface EntityStatus {
  domain: string;
  key: string;
  communeCode: string;
  state: string;
  sequence: number;
  changedAt: string;
  status: SyncStatusV2;
}

interface Row {
  domain: string;
  entity_key: string;
  commune_code: string;
  state: string;
  sequence: string;
  changed_at: Date;
  status: SyncStatusV2;
}

/**
 * What each commune's entities have become: the latest sync.status.v2 of every entity, kept by the
 * same transactional consumer the other services use (a batch applied with its offsets), read
 * back only by the commune it belongs to or that commune's province system.
 */
@Injectable()
export class Statuses implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumer: TransactionalConsumer | undefined;
  private upkeep: TableUpkeep | undefined;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: IngestGatewayConfig,
    @Inject(PROVINCE_OF) private readonly provinceOf: (commune: string) => string | undefined,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    @InjectDataSource() private readonly db: DataSource,
    private readonly kafka: Kafka,
    private readonly producer: EventProducer,
    private readonly validator: ContractValidator,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = new TransactionalConsumer({
      kafka: this.kafka,
      groupId: `${this.config.KAFKA_GROUP_ID}.statuses`,
      topic: this.config.SYNC_STATUS_V2_TOPIC,
      contractTopic: TOPICS.syncStatusV2,
      dataSource: this.db,
      validator: this.validator,
      producer: this.producer,
      logger: this.logger,
      handle: async (events, tx) => {
        // An entity's statuses arrive in order on its partition: the last of the batch wins.
        const latest = new Map<string, { status: SyncStatusV2; at: string }>();
        for (const e of events) {
          const status = e.event.data as SyncStatusV2;
          latest.set(`${status.entity.domain}:${status.entity.key}`, {
            status,
            at: e.event.envelope.time,
          });
        }
        const rows = [...latest.values()];
        await tx.query(
          `insert into entity_status
             (domain, entity_key, commune_code, province_code, state, sequence, status, changed_at)
           select * from rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]),
             unnest($4::text[]), unnest($5::text[]), unnest($6::bigint[]), jsonb_array_elements($7::jsonb),
             unnest($8::timestamptz[]))
           on conflict (domain, entity_key) do update set
             commune_code = excluded.commune_code, province_code = excluded.province_code,
             state = excluded.state, sequence = excluded.sequence, status = excluded.status,
             changed_at = excluded.changed_at`,
          [
            rows.map((r) => r.status.entity.domain),
            rows.map((r) => r.status.entity.key),
            rows.map((r) => r.status.entity.communeCode),
            rows.map((r) => this.provinceOf(r.status.entity.communeCode) ?? '00'),
            rows.map((r) => r.status.state),
            rows.map((r) => r.status.sequence),
            jsonList(rows.map((r) => r.status)),
            rows.map((r) => r.at),
          ],
        );
      },
    });
    await this.consumer.start();
    // Every status rewrites its entity's row: vacuumed and analysed where autovacuum is off.
    this.upkeep = TableUpkeep.forService(this.db, this.config.DB_SCHEMA, this.logger);
    this.upkeep.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.upkeep?.stop();
    await this.consumer?.stop();
  }

  health(): ConsumerHealth | undefined {
    return this.consumer?.health();
  }

  /** One entity's latest status, if the caller may see it. */
  async one(caller: Caller, domain: string, key: string): Promise<EntityStatus | undefined> {
    const rows = await this.db.query<Row[]>(
      `select * from entity_status where domain = $1 and entity_key = $2 and ${scope(caller, 3)}`,
      [domain, key, caller.authority.code],
    );
    return rows[0] && present(rows[0]);
  }

  /** The caller's statuses that changed after `since`, oldest first (a cursor: the last changedAt). */
  async changed(caller: Caller, since: Date, limit: number): Promise<EntityStatus[]> {
    const rows = await this.db.query<Row[]>(
      `select * from entity_status where ${scope(caller, 1)} and changed_at > $2
       order by changed_at, domain, entity_key limit $3`,
      [caller.authority.code, since, limit],
    );
    return rows.map(present);
  }
}

/** A commune's system sees its commune; a province system every commune of its province. */
function scope(caller: Caller, param: number): string {
  return caller.authority.kind === 'commune'
    ? `commune_code = $${param}`
    : `province_code = $${param}`;
}

function present(r: Row): EntityStatus {
  return {
    domain: r.domain,
    key: r.entity_key,
    communeCode: r.commune_code,
    state: r.state,
    sequence: Number(r.sequence),
    changedAt: r.changed_at.toISOString(),
    status: r.status,
  };
}
