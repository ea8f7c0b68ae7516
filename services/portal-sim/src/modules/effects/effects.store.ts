import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';

export type PortalApi = 'dvcqg' | 'civil-status' | 'land';

export interface WriteEffect {
  api: PortalApi;
  entityKey: string;
  operation: string;
  /** Accepted write calls for this entity and operation. */
  writes: number;
  /** Of those, the ones that really changed the stored state. */
  changes: number;
}

/**
 * Adds write effects to `write_effect`: `source` is a query (or a data-modifying CTE's name read
 * by one) yielding (api, entity_key, operation, writes, changes), one row per entity and
 * operation. For statements that count their writes in the same statement (dvcqg.store).
 */
export function countEffects(source: string): string {
  return `insert into write_effect (api, entity_key, operation, writes, changes) ${source}
    on conflict (api, entity_key, operation)
    do update set writes = write_effect.writes + excluded.writes,
      changes = write_effect.changes + excluded.changes, last_write_at = now()`;
}

/**
 * Counts, per entity, every accepted write and every write that changed state: tests compare
 * them with the changes they sent to prove "exactly one effect per change".
 */
@Injectable()
export class EffectsStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async record(
    tx: EntityManager,
    api: PortalApi,
    entityKey: string,
    operation: string,
    changed: boolean,
  ): Promise<void> {
    await tx.query(countEffects('values ($1, $2, $3, 1, $4::integer)'), [
      api,
      entityKey,
      operation,
      changed ? 1 : 0,
    ]);
  }

  async list(filter: { api?: string; entityKey?: string }): Promise<WriteEffect[]> {
    const rows: Array<{
      api: PortalApi;
      entity_key: string;
      operation: string;
      writes: number;
      changes: number;
    }> = await this.db.query(
      `select api, entity_key, operation, writes, changes from write_effect
       where ($1::text is null or api = $1) and ($2::text is null or entity_key = $2)
       order by api, entity_key, operation`,
      [filter.api ?? null, filter.entityKey ?? null],
    );
    return rows.map((r) => ({
      api: r.api,
      entityKey: r.entity_key,
      operation: r.operation,
      writes: r.writes,
      changes: r.changes,
    }));
  }

  async totals(
    api?: string,
  ): Promise<
    Array<{ api: string; operation: string; entities: number; writes: number; changes: number }>
  > {
    const rows: Array<{
      api: string;
      operation: string;
      entities: string;
      writes: string;
      changes: string;
    }> = await this.db.query(
      `select api, operation, count(*) entities, sum(writes) writes, sum(changes) changes from write_effect
       where ($1::text is null or api = $1) group by api, operation order by api, operation`,
      [api ?? null],
    );
    return rows.map((r) => ({
      api: r.api,
      operation: r.operation,
      entities: Number(r.entities),
      writes: Number(r.writes),
      changes: Number(r.changes),
    }));
  }
}
