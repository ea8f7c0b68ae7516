import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { TokenStore } from '../auth/token.store';
import { EffectsStore } from '../effects/effects.store';
import type { PortalApi, WriteEffect } from '../effects/effects.store';
import { FaultRegistry, PORTAL_APIS } from '../faults/fault-registry.service';
import type { FaultProfile } from '../faults/fault-profile';
import { DvcqgStore } from '../dvcqg/dvcqg.store';
import { CivilStatusService } from '../civil-status/civil-status.service';
import { LandService } from '../land/land.service';

function apiOf(value: string): PortalApi {
  if (!(PORTAL_APIS as readonly string[]).includes(value)) {
    throw new BadRequestException(`api must be one of ${PORTAL_APIS.join(', ')}`);
  }
  return value as PortalApi;
}

const FAULT_KEYS = new Set([
  'latencyMs',
  'errorRates',
  'outages',
  'down',
  'rateLimit',
  'drift',
  'timeoutHoldMs',
]);

/** Test and demo controls: write counters, faults, session expiry, drift, reset. Not a portal API. */
@Controller('admin')
export class AdminController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly effects: EffectsStore,
    private readonly faults: FaultRegistry,
    private readonly tokens: TokenStore,
    private readonly dvcqg: DvcqgStore,
    private readonly civil: CivilStatusService,
    private readonly land: LandService,
  ) {}

  /** Writes and state changes per entity: ?api=dvcqg&key=H56.14-250702-0001 */
  @Get('effects')
  list(@Query('api') api?: string, @Query('key') key?: string): Promise<WriteEffect[]> {
    return this.effects.list({
      ...(api ? { api: apiOf(api) } : {}),
      ...(key ? { entityKey: key } : {}),
    });
  }

  @Get('effects/totals')
  totals(
    @Query('api') api?: string,
  ): Promise<
    Array<{ api: string; operation: string; entities: number; writes: number; changes: number }>
  > {
    return this.effects.totals(api ? apiOf(api) : undefined);
  }

  /** Requests per API by what the fault profile decided (pass, rate-limited, unavailable, …). */
  @Get('requests')
  requests(): Record<string, Record<string, number>> {
    return this.faults.requests();
  }

  @Get('faults')
  allFaults(): Record<string, FaultProfile> {
    return Object.fromEntries(PORTAL_APIS.map((api) => [api, this.faults.get(api)]));
  }

  @Get('faults/:api')
  getFaults(@Param('api') api: string): FaultProfile {
    return this.faults.get(apiOf(api));
  }

  /** Replaces the API's fault profile ({} = healthy). */
  @Put('faults/:api')
  setFaults(@Param('api') api: string, @Body() profile: FaultProfile): FaultProfile {
    const unknown = Object.keys(profile ?? {}).filter((k) => !FAULT_KEYS.has(k));
    if (unknown.length > 0)
      throw new BadRequestException(
        `unknown fault setting(s): ${unknown.join(', ')}; known: ${[...FAULT_KEYS].join(', ')}`,
      );
    this.faults.set(apiOf(api), profile ?? {});
    return this.faults.get(apiOf(api));
  }

  /** Ends every live session or token of an API now, as a server-side expiry would. */
  @Post('sessions/:api/expire')
  @HttpCode(200)
  async expire(@Param('api') api: string): Promise<{ expired: number }> {
    return { expired: await this.tokens.expireAll(apiOf(api)) };
  }

  /** Silently alters or deletes stored records: {keys: [...], mode} or {count, mode}. */
  @Post('drift/:api')
  @HttpCode(200)
  async drift(
    @Param('api') api: string,
    @Body() body: { keys?: string[]; count?: number; mode?: 'alter' | 'delete' },
  ): Promise<{ drifted: string[] }> {
    const target = apiOf(api);
    const mode = body?.mode ?? 'alter';
    if (mode !== 'alter' && mode !== 'delete')
      throw new BadRequestException('mode must be alter or delete');
    const keys =
      body?.keys ?? (target === 'dvcqg' ? await this.dvcqg.anyKeys(body?.count ?? 1) : []);
    const drifted: string[] = [];
    for (const key of keys) {
      const done =
        target === 'dvcqg'
          ? await this.dvcqg.drift(key, mode)
          : target === 'civil-status'
            ? await this.civil.drift(key, mode)
            : await this.land.drift(key, mode);
      if (done) drifted.push(key);
    }
    return { drifted };
  }

  /** What DVCQG holds for a dossier (header and steps), without a session: for tests and ops. */
  @Get('dvcqg/dossiers/:maHoSo')
  async dossier(
    @Param('maHoSo') maHoSo: string,
  ): Promise<{ header: Record<string, unknown>; steps: Array<Record<string, unknown>> }> {
    const found = await this.dvcqg.lookup(maHoSo);
    if (!found) throw new NotFoundException(`DVCQG holds no dossier ${maHoSo}`);
    return found;
  }

  /** Forgets all state: for tests that need a clean portal. */
  @Post('reset')
  @HttpCode(200)
  async reset(): Promise<{ reset: true }> {
    await this.db.query(
      'truncate access_token, write_effect, dvcqg_dossier, dvcqg_step, civil_registration, land_dossier',
    );
    for (const api of PORTAL_APIS) this.faults.set(api, {});
    return { reset: true };
  }
}
