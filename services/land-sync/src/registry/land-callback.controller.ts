import { Body, Controller, HttpCode, HttpException, Inject, Param, Post } from '@nestjs/common';
import type { Logger } from 'pino';
import type { LandCallbackAnswer } from '@lienthong/portal-clients';
import { ROOT_LOGGER, SYNC_CONFIG, SyncWorkers } from '@lienthong/sync-service';
import type { LandSyncConfig } from '../config/land-sync.config';
import { readCallback } from './land-callbacks';
import { validSecurityCode } from './security-code';

/**
 * Where the land registry calls back. A callback is authenticated by the SecurityCode its dossier
 * was sent with (HMAC of the receipt number under LAND_CALLBACK_SECRET): a wrong one is 403. It is
 * answered {Result: true} once applied (or already known); {Result: false} when no dossier awaits
 * it yet (not recorded as accepted, or being sent again), so the registry tries again later.
 */
@Controller('land/callbacks')
export class LandCallbackController {
  constructor(
    private readonly workers: SyncWorkers,
    @Inject(SYNC_CONFIG) private readonly config: LandSyncConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  @Post(':kind')
  @HttpCode(200)
  async receive(@Param('kind') kind: string, @Body() body: unknown): Promise<LandCallbackAnswer> {
    const reading = readCallback(kind, body);
    if (!reading.ok)
      throw new HttpException(
        { Result: false, Message: reading.message, field: reading.field },
        400,
      );
    if (
      !validSecurityCode(this.config.LAND_CALLBACK_SECRET, reading.soBienNhan, reading.securityCode)
    )
      throw new HttpException(
        { Result: false, Message: 'SecurityCode: not valid for SoBienNhan' },
        403,
      );
    const outcome = await this.workers.applyFact({
      ...reading.fact,
      reference: reading.soBienNhan,
    });
    this.logger.debug({ callback: kind, outcome }, 'land registry callback');
    if (outcome === 'unknown')
      return { Result: false, Message: 'Hồ sơ chưa được ghi nhận; gửi lại sau' };
    return { Result: true, Message: outcome === 'applied' ? 'Thành công' : `Đã nhận (${outcome})` };
  }
}
