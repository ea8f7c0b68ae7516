import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpException,
  Param,
  Post,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { TokenStore } from '../auth/token.store';
import { PortalSimSettings } from '../../config/portal-sim.settings';
import { LandService, landAnswer } from './land.service';
import type { LandAnswer } from './land.service';

/** The land registry (ILIS/VBDLIS): OAuth2 password grant, then Bearer calls. */
@Controller('land')
export class LandController {
  constructor(
    private readonly land: LandService,
    private readonly tokens: TokenStore,
    private readonly settings: PortalSimSettings,
  ) {}

  @Post('connect/token')
  @HttpCode(200)
  async token(
    @Body() body: { grant_type?: string; username?: string; password?: string },
  ): Promise<{ access_token: string; token_type: string; expires_in: number }> {
    if (body?.grant_type !== 'password')
      throw new HttpException({ error: 'unsupported_grant_type' }, 400);
    const password = this.settings.landUsers.get(String(body.username));
    if (password === undefined || password !== body.password)
      throw new HttpException({ error: 'invalid_grant' }, 400);
    const { token, expiresIn } = await this.tokens.issue(
      'land',
      String(body.username),
      this.settings.sessionTtlSeconds,
    );
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn };
  }

  @Post('api/HoSo/TiepNhan')
  async receive(
    @Headers('authorization') auth: string | undefined,
    @Body() body: Record<string, unknown>,
    @Res() res: Response,
  ): Promise<void> {
    await this.authorize(auth);
    const { status, answer } = await this.land.receive(body ?? {});
    res.status(status).json(answer);
  }

  @Get('api/HoSo/:ma')
  async lookup(
    @Headers('authorization') auth: string | undefined,
    @Param('ma') ma: string,
  ): Promise<LandAnswer> {
    await this.authorize(auth);
    const row = await this.land.lookup(ma);
    if (!row) throw new HttpException(landAnswer(null, false, 'Không tìm thấy hồ sơ'), 404);
    return landAnswer(
      {
        MaHoSoMotCua: ma,
        TrangThai: row.status,
        LichSu: row.history,
        HoSo: row.payload,
        ThongBaoThue: row.tax_notice,
      },
      true,
      'Thành công',
    );
  }

  @Get('api/HoSo/:ma/ThongBaoThue')
  async taxNotice(
    @Headers('authorization') auth: string | undefined,
    @Param('ma') ma: string,
  ): Promise<LandAnswer> {
    await this.authorize(auth);
    const row = await this.land.lookup(ma);
    if (!row) throw new HttpException(landAnswer(null, false, 'Không tìm thấy hồ sơ'), 404);
    return row.tax_notice
      ? landAnswer(row.tax_notice, true, 'Thành công')
      : landAnswer(null, true, 'Chưa có thông báo thuế');
  }

  private async authorize(auth: string | undefined): Promise<void> {
    if (!(await this.tokens.bearerPrincipal('land', auth)))
      throw new HttpException(landAnswer(null, false, 'Unauthorized'), 401);
  }
}
