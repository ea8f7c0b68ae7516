import { Controller, Get, Headers, Inject, Query } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { parseResultRef } from '@lienthong/contracts';
import { Problem, bearerRefusal } from '@lienthong/observability';
import { PushTarget } from '@lienthong/sync-engine';
import type { SyncServiceConfig } from './sync-service.config';
import { SYNC_CONFIG } from './tokens';

/**
 * The full result a portal gave for an entity (a newborn's personal ID included), by the
 * reference sync.status.v2 publishes instead of it. Internal: only ingest-gateway calls it
 * (RESULTS_API_TOKEN), and it answers its callers only for the commune they are; this service
 * says which commune the result belongs to and nothing else decides.
 */
@Controller('results')
export class ResultsController {
  constructor(
    @Inject(SYNC_CONFIG) private readonly config: SyncServiceConfig,
    private readonly target: PushTarget,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  @Get()
  async result(
    @Headers('authorization') authorization: string | undefined,
    @Query('ref') ref: string | undefined,
  ): Promise<{ resultRef: string; communeCode: string; result: unknown }> {
    const refused = bearerRefusal(
      authorization,
      this.config.RESULTS_API_TOKEN,
      'RESULTS_API_TOKEN',
    );
    if (refused) throw new Problem(refused.status, 'Not allowed', refused.detail);
    const parts = parseResultRef(ref ?? '');
    if (!parts) {
      throw new Problem(
        400,
        'Not a result reference',
        'ref: must be <domain>:<entity key>:<sequence>',
      );
    }
    const rows = await this.db.query<Array<{ commune_code: string; result: unknown }>>(
      `select commune_code, result from sync_entity
       where target = $1 and entity_key = $2 and source_sequence = $3 and state = 'SYNCED' and result is not null`,
      [this.target.target, parts.entityKey, parts.sequence],
    );
    const row = rows[0];
    if (!row || parts.domain !== this.target.domain) {
      throw new Problem(404, 'Not found', 'no result under this reference');
    }
    return { resultRef: ref as string, communeCode: row.commune_code, result: row.result };
  }
}
